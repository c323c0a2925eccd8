"""A late-submission policy nbgrader lacks: a percentage off per day late, with a cap.

nbgrader offers only "none" and "zero". :class:`PerDayPenalty` is an nbgrader
``LateSubmissionPlugin``; enable it in ``nbgrader_config.py``::

    c.AssignLatePenalties.plugin_class = "course_lib.grading.late.PerDayPenalty"
    c.PerDayPenalty.percent_per_day = 10.0   # each started day late costs 10 % of the score
    c.PerDayPenalty.max_percent = 50.0       # never more than 50 %

or with ``rnn-course grade --late-per-day 10 --late-cap 50``. nbgrader calls it
per notebook, during autograde, with the notebook's score and how late the
submission is (after any extension); the penalty is stored in the gradebook and
shown in the feedback.
"""

from __future__ import annotations

import math

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float, validate

from .settings import Settings

SECONDS_PER_DAY = 24 * 60 * 60


class PerDayPenalty(LateSubmissionPlugin):
    """Take ``percent_per_day`` % of the score for each started day late, at most ``max_percent`` %."""

    percent_per_day = Float(10.0, help="Percent of the score taken per started day late.").tag(config=True)
    max_percent = Float(100.0, help="The most percent of the score taken, however late.").tag(config=True)

    @validate("percent_per_day", "max_percent")
    def _check_percent(self, proposal):
        value = proposal["value"]
        if not 0 <= value <= 100:
            raise ValueError(f"{proposal['trait'].name} must be between 0 and 100, got {value}")
        return value

    def late_submission_penalty(self, student_id: str, score: float, total_seconds_late: float) -> float:
        """The points to subtract from ``score`` for a submission ``total_seconds_late`` late."""
        if total_seconds_late <= 0:
            return 0.0
        days = math.ceil(total_seconds_late / SECONDS_PER_DAY)
        percent = min(self.max_percent, days * self.percent_per_day)
        return score * percent / 100.0


def settings(percent_per_day: float, max_percent: float) -> Settings:
    """The nbgrader settings that switch on :class:`PerDayPenalty` with these percentages.

    The percentages are checked here, by the plugin's own traits, so a bad policy stops the
    run before any submission is graded."""
    policy = PerDayPenalty(percent_per_day=percent_per_day, max_percent=max_percent)
    return {
        ("AssignLatePenalties", "plugin_class"): f"{__name__}.{PerDayPenalty.__name__}",
        ("PerDayPenalty", "percent_per_day"): policy.percent_per_day,
        ("PerDayPenalty", "max_percent"): policy.max_percent,
    }
