"""course_lib: the one library behind the rnn-course lectures and assignments.

Every from-scratch piece has a PyTorch counterpart with the same name and
signature, and the test suite checks that both give the same numbers.

Names are loaded lazily (PEP 562), so ``import course_lib`` stays fast and
``course_lib.LSTM`` imports only the module that defines it.

Module map (one concept per file):

- ``text``         tokenisers, ``Vocab``, ``bag_of_words``          (lecture 1, 7)
- ``embedding``    ``one_hot``, ``Embedding``                        (lecture 7)
- ``packing``      ``pad_sequence``, ``pack_padded_sequence``, ...   (lecture 7)
- ``data``         offline datasets and a padding collate function
- ``rnn``          ``RNNCell``, ``RNN`` equal to ``torch.nn``'s          (lecture 2)
- ``lstm``         ``LSTMCell``, ``LSTM`` equal to ``torch.nn``'s        (lecture 5)
- ``gru``          ``GRUCell``, ``GRU`` equal to ``torch.nn``'s          (lecture 6)
- ``recurrent``    the multi-layer / bidirectional / packed driver they share
- ``lstm_manual``  an LSTM layer whose backward is hand-written BPTT   (lecture 5)
- ``bptt``         manual BPTT, gradient check, truncated BPTT          (lecture 4)
- ``clipping``     ``clip_grad_norm_``, ``clip_grad_value_``           (lecture 4)
- ``diagnostics``  vanishing / exploding gradient measurements          (lecture 4)
- ``models``, ``seq2seq``, ``training``, ``plots``  what lectures train and draw
- ``translation``  the shipped date-translation task (written dates -> ISO)   (lecture 10)
- ``bleu``         corpus BLEU from scratch, equal to sacrebleu's       (lecture 10)
- ``chrf``         chrF and chrF++ (character n-gram F-score) from scratch, equal to sacrebleu's
- ``ngram``        add-k and Kneser-Ney n-gram language models          (lecture 8)
- ``interpretable`` LSTM cells that track quotes and brackets           (lecture 8)
- ``conditional``  a character GRU that writes a surname of a given origin (lecture 8)
- ``diagrams``     lecture figures drawn with matplotlib (sequence tasks, unrolled RNN, LSTM cell)
- ``interactive``  slider figures for the static book, every state precomputed (lectures 4, 5, 8, 10)
- ``checks``       assignment test helpers whose messages say what is wrong
- ``validation``   the argument checks every function uses; errors that are also torch's classes
"""

from importlib import import_module

_EXPORTS = {
    "text": ["word_tokenize", "char_tokenize", "Vocab", "bag_of_words"],
    "embedding": ["one_hot", "Embedding"],
    "packing": [
        "PackedSequence",
        "pad_sequence",
        "pack_padded_sequence",
        "pad_packed_sequence",
        "pack_sequence",
        "unpack_sequence",
        "packing_multiplications",
        "PackingCost",
    ],
    "data": [
        "toy_sentences",
        "order_sentiment",
        "TextClassificationDataset",
        "char_corpus",
        "CharLMDataset",
        "names_by_origin",
        "NamesDataset",
        "AddingTask",
        "CopyTask",
        "sine_series",
        "SineForecast",
        "pad_collate",
    ],
    "rnn": ["RNNCell", "RNN"],
    "lstm": ["LSTMCell", "LSTM"],
    "gru": ["GRUCell", "GRU"],
    "recurrent": ["parameter_table", "time_forward_backward"],
    "clipping": ["clip_grad_norm_", "clip_grad_value_", "clip_gradient_slide"],
    "bptt": [
        "rnn_forward",
        "rnn_backward",
        "lstm_forward",
        "lstm_backward",
        "numerical_gradient",
        "gradient_check",
        "truncated_bptt_epoch",
    ],
    "diagnostics": [
        "largest_singular_value",
        "hidden_gradient_norms",
        "plot_gradient_norms",
    ],
    "models": ["SimpleLSTM", "SequenceClassifier", "Forecaster", "sliding_windows"],
    "seq2seq": ["pad_seq2seq", "BahdanauAttention", "Encoder", "AttentionDecoder", "Seq2Seq"],
    "training": [
        "train",
        "evaluate_loss",
        "evaluate_accuracy",
        "predict",
        "confusion_matrix",
        "top_k_predictions",
        "moving_average",
        "first_step_below",
        "perplexity",
        "sample",
        "default_device",
    ],
    "plots": ["plot_loss", "plot_confusion_matrix", "plot_attention", "plot_forecast"],
    "translation": ["date_pairs", "date_splits", "date_vocabulary"],
    "bleu": ["corpus_bleu", "sentence_bleu", "BLEUScore"],
    "chrf": ["corpus_chrf", "CHRFScore"],
    "ngram": ["NGramLM"],
    "interpretable": ["quoted_text", "cell_states", "correlations", "coloured_text"],
    "conditional": ["ConditionalCharRNN", "generate_names"],
    "interactive": ["gradient_norm_slider", "lstm_gates_slider", "temperature_slider", "attention_slider"],
}

_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'course_lib' has no attribute {name!r}")
    value = getattr(import_module(f"course_lib.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
