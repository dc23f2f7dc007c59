"""Stage `export`: models/model -> models/serving, a TensorFlow SavedModel that takes raw review strings.

Its `serving_default` signature maps `review` (a batch of strings) to `label` (strings) and
`probabilities` (one column per label), with the decision of models/decision.json (written by `evaluate`) applied
as `predict` applies it: the temperature, the threshold and, with `long_reviews: windows`, a review longer than
max_length scored over the same overlapping windows as src/imdb_bert/scoring.py (a window every `window_stride`
tokens, the last one flush with the review's end; the mean of the windows' logits), so any TensorFlow runtime
gets what `evaluate` measured. With `long_reviews: truncate` (or no decision file) a long review is truncated as
in training. Cleaning, tokenization (tensorflow-text's FastBertTokenizer on the checkpoint's own WordPiece
vocabulary), windows, truncation and padding all happen inside the graph, exactly as `predict` does them in
Python, so TF Serving or any TensorFlow runtime with the tensorflow-text ops (`import tensorflow_text`) can serve
it with no Python tokenizer.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from imdb_bert.data import HTML_LINE_BREAK
from imdb_bert.decisions import DECISION_FILE, Decision
from imdb_bert.errors import PipelineError, run_stage
from imdb_bert.files import atomic_path
from imdb_bert.tokens import head_tail_sizes, num_special_tokens
from imdb_bert.trained_model import TrainedModel

MODEL_DIR = Path("models/model")
SERVING_DIR = Path("models/serving")
log = logging.getLogger("export")


def check_exportable(trained: TrainedModel) -> None:
    """A TensorFlow model with a [CLS] text [SEP] tokenizer, and windows with a stride."""
    tokenizer, backend = trained.tokenizer, trained.classifier.library.backend()
    if backend != "tensorflow":
        raise PipelineError(f"export writes a TensorFlow SavedModel, and this model runs on {backend}; "
                            f"run `KERAS_BACKEND=tensorflow dvc repro export` (the saved weights work on any backend)")
    if tokenizer.build_inputs_with_special_tokens([7]) != [tokenizer.cls_token_id, 7, tokenizer.sep_token_id]:
        raise PipelineError(f"{trained.directory}: export supports [CLS] text [SEP] tokenizers (BERT family) only")
    if trained.decision.long_reviews == "windows" and trained.decision.window_stride < 1:
        raise PipelineError(f"the decision has long_reviews: windows with window_stride "
                            f"{trained.decision.window_stride}; run `dvc repro evaluate` to write it again")


def window_spans(tf, lengths, budget: int, stride: int):
    """Per window of every review (src/imdb_bert/scoring.py's window_starts): the review it belongs to, its
    start and its length. A review within `budget` tokens is one window, the whole review."""
    overflow = tf.maximum(lengths - budget, 0)
    counts = tf.where(overflow > 0, (overflow + stride - 1) // stride + 1, tf.ones_like(lengths))
    owners = tf.repeat(tf.range(tf.size(lengths, out_type=tf.int64)), counts)
    index = tf.ragged.range(counts).flat_values  # 0, 1, ... within each review
    starts = tf.minimum(index * stride, tf.gather(overflow, owners))  # the last one flush with the end
    return owners, starts, tf.gather(tf.minimum(lengths, budget), owners)


def build_serving_module(model: Path | TrainedModel, decision: Decision | None = None):
    """A tf.Module with `serve` (strings -> label, probabilities) and `encode` (strings -> ids, mask, truncated
    as in training). `decision` (default: the loaded model's) adds the temperature, the threshold and windows."""
    import tensorflow as tf
    import tensorflow_text as tf_text

    trained = model if isinstance(model, TrainedModel) else TrainedModel.load(model)
    decision = decision or trained.decision
    trained.decision = decision
    check_exportable(trained)
    settings, tokenizer, labels, classifier = trained.settings, trained.tokenizer, trained.labels, trained.classifier
    vocab = [token for token, _ in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])]
    lowercase = bool(getattr(tokenizer, "do_lower_case", False))
    max_length, truncation = settings["max_length"], settings["truncation"]
    num_special = num_special_tokens(tokenizer)
    budget = max_length - num_special
    head_size = head_tail_sizes(max_length, num_special)[0]
    windows = decision.long_reviews == "windows"

    class ServingModule(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.classifier = classifier
            self.model = classifier.model  # tracked, so its variables are saved
            self.labels = tf.constant(labels)
            self.wordpiece = tf_text.FastBertTokenizer(vocab=vocab, token_out_type=tf.int64,
                                                       unknown_token=tokenizer.unk_token,
                                                       lower_case_nfd_strip_accents=False)

        def normalize(self, texts):
            """What Hugging Face's BertNormalizer does: drop control characters; for uncased vocabularies,
            NFD, strip accents and lowercase."""
            if settings["strip_html"]:
                texts = tf.strings.regex_replace(texts, "(?i)" + HTML_LINE_BREAK.pattern, " ")
            texts = tf.strings.regex_replace(texts, r"[\t\n\r]", " ")
            texts = tf.strings.regex_replace(texts, r"[\x{FFFD}\p{C}]", "")
            if lowercase:
                texts = tf.strings.regex_replace(tf_text.normalize_utf8(texts, "NFD"), r"\p{Mn}", "")
                texts = tf.strings.lower(texts, encoding="utf-8")
            return texts

        def features(self, ids):
            """Ragged content ids -> the model's padded inputs, with [CLS] and [SEP] added."""
            rows = ids.nrows()
            ids = tf.concat([tf.fill([rows, 1], tf.constant(tokenizer.cls_token_id, tf.int64)), ids,
                             tf.fill([rows, 1], tf.constant(tokenizer.sep_token_id, tf.int64))], axis=1)
            input_ids = tf.cast(ids.to_tensor(default_value=tokenizer.pad_token_id), tf.int32)
            mask = tf.sequence_mask(ids.row_lengths(), maxlen=tf.shape(input_ids)[1], dtype=tf.int32)
            return {"input_ids": input_ids, "attention_mask": mask}

        def truncate(self, ids):
            if truncation == "head":
                return ids[:, :budget]
            if truncation == "tail":
                return ids[:, -budget:]
            # rows within budget are kept whole: their head and the rest's tail are the whole row
            return tf.concat([ids[:, :head_size], ids[:, head_size:][:, -(budget - head_size):]], axis=1)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def encode(self, texts):
            return self.features(self.truncate(self.wordpiece.tokenize(self.normalize(texts))))

        def logits(self, features):
            inputs = dict(features, token_type_ids=tf.zeros_like(features["input_ids"]))
            inputs = {name: inputs[name] for name in settings["model_input_names"]}
            return tf.cast(self.classifier.logits(inputs), tf.float32)

        def windowed_logits(self, ids):
            """Each review's mean logits over its windows (one model call for all windows of the batch)."""
            owners, starts, sizes = window_spans(tf, ids.row_lengths(), budget, decision.window_stride)
            positions = tf.ragged.range(starts, starts + sizes) + tf.expand_dims(tf.gather(ids.row_starts(), owners), 1)
            windowed = tf.RaggedTensor.from_row_lengths(tf.gather(ids.flat_values, positions.flat_values), sizes)
            return tf.math.unsorted_segment_mean(self.logits(self.features(windowed)), owners, ids.nrows())

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="review")])
        def serve(self, review):
            ids = self.wordpiece.tokenize(self.normalize(review))
            logits = self.windowed_logits(ids) if windows else self.logits(self.features(self.truncate(ids)))
            probabilities = tf.nn.softmax(logits / decision.temperature, axis=-1)
            if decision.threshold is None:
                predicted = tf.argmax(probabilities, axis=-1)
            else:
                predicted = tf.cast(probabilities[:, 1] >= decision.threshold, tf.int64)
            return {"label": tf.gather(self.labels, predicted), "probabilities": probabilities}

    return ServingModule()


def main() -> None:
    # A SavedModel is TensorFlow's: a keras_hub model trained on any backend is loaded on TensorFlow here (its
    # weights file is backend-independent). Keras is not imported yet, so this picks its backend.
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf

    trained = TrainedModel.load(MODEL_DIR, DECISION_FILE if DECISION_FILE.is_file() else None)
    if not DECISION_FILE.is_file():
        log.info("%s: not found (run `dvc repro evaluate`); the SavedModel decides by arg-max and truncates long "
                 "reviews", DECISION_FILE)
    module = build_serving_module(trained)
    with atomic_path(SERVING_DIR) as out:
        tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve,
                                                          "encode": module.encode})
    log.info("saved %s (long reviews: %s)", SERVING_DIR, trained.decision.long_reviews)


if __name__ == "__main__":
    run_stage(main)
