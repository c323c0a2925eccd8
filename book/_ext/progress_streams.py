"""Sphinx extension: show a text progress bar (tqdm) as its final line in the built book.

A text ``tqdm`` bar redraws itself with carriage returns: ``"\\repochs:  18%|██ ..."``. The kernel
sends those redraws as many stream chunks. myst-nb's ``nb_merge_streams`` joins the chunks of a
cell but puts a newline after each one *before* it applies the carriage returns, so every redraw
survives as its own line. Here the chunks are concatenated as they were written (as a terminal
or JupyterLab sees them) and then handed to myst-nb's own merge, whose carriage-return and
backspace handling then leaves the last redraw of each line only.

Loaded from ``_config.yml`` (``sphinx.local_extensions``); needs ``nb_merge_streams: true``.
Pinned to myst-nb 1.x, whose renderer calls ``myst_nb.core.render.coalesce_streams``.
"""

from __future__ import annotations

from nbformat import NotebookNode


def concatenate_streams(outputs: list) -> list:
    """Join all chunks of each stream (stdout, stderr) into its first chunk, text as written."""
    merged, first = [], {}
    for output in outputs:
        if output.get("output_type") == "stream":
            name = output["name"]
            if name in first:
                first[name]["text"] += output["text"]
                continue
            output = NotebookNode(dict(output))  # never modify the cached notebook
            first[name] = output
        merged.append(output)
    return merged


def setup(app):
    from myst_nb.core import render

    original = render.coalesce_streams

    def coalesce_streams(outputs):
        return original(concatenate_streams(outputs or []))

    render.coalesce_streams = coalesce_streams
    return {"parallel_read_safe": True, "parallel_write_safe": True}
