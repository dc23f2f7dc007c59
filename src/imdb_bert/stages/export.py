"""Stage `export`: models/model -> models/serving, a TensorFlow SavedModel that takes raw review strings.

Its `serving_default` signature maps `review` (a batch of strings) to `label` (strings) and
`probabilities` (one column per label), with the temperature and the threshold of models/decision.json
(written by `evaluate`) applied as `predict` applies them. Cleaning, tokenization (tensorflow-text's FastBertTokenizer
on the checkpoint's own WordPiece vocabulary), truncation and padding all happen inside the graph,
exactly as `predict` does them in Python, so TF Serving or any TensorFlow runtime with the
tensorflow-text ops (`import tensorflow_text`) can serve it with no Python tokenizer.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from imdb_bert.data import HTML_LINE_BREAK
from imdb_bert.decisions import DECISION_FILE, Decision, read_decision
from imdb_bert.errors import PipelineError, run_stage
from imdb_bert.files import atomic_path, read_json
from imdb_bert.models import load_trained, trained_labels
from imdb_bert.tokenizer import load_tokenizer
from imdb_bert.tokens import TOKENIZATION_FILE, head_tail_sizes, num_special_tokens

MODEL_DIR = Path("models/model")
SERVING_DIR = Path("models/serving")
log = logging.getLogger("export")


def build_serving_module(model_dir: Path, decision: Decision | None = None):
    """A tf.Module with `serve` (strings -> label, probabilities) and `encode` (strings -> ids, mask).
    `decision` adds a temperature and a threshold (None: arg-max of the model's probabilities)."""
    import tensorflow as tf
    import tensorflow_text as tf_text

    settings = read_json(model_dir / TOKENIZATION_FILE)
    tokenizer = load_tokenizer(str(model_dir))
    labels = trained_labels(model_dir)
    decision = decision or Decision(labels=labels)
    model = load_trained(model_dir, labels)
    if model.library.backend() != "tensorflow":
        raise PipelineError(f"export writes a TensorFlow SavedModel, and this model runs on {model.library.backend()}; "
                            f"run `KERAS_BACKEND=tensorflow dvc repro export` (the saved weights work on any backend)")
    vocab = [token for token, _ in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])]
    lowercase = bool(getattr(tokenizer, "do_lower_case", False))
    max_length, truncation = settings["max_length"], settings["truncation"]
    num_special = num_special_tokens(tokenizer)
    if tokenizer.build_inputs_with_special_tokens([7]) != [tokenizer.cls_token_id, 7, tokenizer.sep_token_id]:
        raise PipelineError(f"{model_dir}: export supports [CLS] text [SEP] tokenizers (BERT family) only")
    budget = max_length - num_special
    head_size = head_tail_sizes(max_length, num_special)[0]

    class ServingModule(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.classifier = model
            self.model = model.model  # tracked, so its variables are saved
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

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def encode(self, texts):
            ids = self.wordpiece.tokenize(self.normalize(texts))
            if truncation == "head":
                ids = ids[:, :budget]
            elif truncation == "tail":
                ids = ids[:, -budget:]
            else:  # rows within budget are kept whole: their head and the rest's tail are the whole row
                ids = tf.concat([ids[:, :head_size], ids[:, head_size:][:, -(budget - head_size):]], axis=1)
            rows = ids.nrows()
            ids = tf.concat([tf.fill([rows, 1], tf.constant(tokenizer.cls_token_id, tf.int64)), ids,
                             tf.fill([rows, 1], tf.constant(tokenizer.sep_token_id, tf.int64))], axis=1)
            input_ids = tf.cast(ids.to_tensor(default_value=tokenizer.pad_token_id), tf.int32)
            mask = tf.sequence_mask(ids.row_lengths(), maxlen=tf.shape(input_ids)[1], dtype=tf.int32)
            return {"input_ids": input_ids, "attention_mask": mask}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="review")])
        def serve(self, review):
            features = self.encode(review)
            inputs = dict(features, token_type_ids=tf.zeros_like(features["input_ids"]))
            inputs = {name: inputs[name] for name in settings["model_input_names"]}
            probabilities = tf.nn.softmax(tf.cast(self.classifier.logits(inputs), tf.float32), axis=-1)
            if decision.temperature != 1.0:  # softmax(logits / T): log p is the logits up to a per-row constant
                log_p = tf.math.log(tf.maximum(tf.cast(probabilities, tf.float64), 1e-30))
                probabilities = tf.cast(tf.nn.softmax(log_p / decision.temperature, axis=-1), probabilities.dtype)
            if decision.threshold is None:
                predicted = tf.argmax(probabilities, axis=-1)
            else:
                predicted = tf.cast(probabilities[:, 1] >= decision.threshold, tf.int64)
            return {"label": tf.gather(self.labels, predicted), "probabilities": probabilities}

    return ServingModule()


def main() -> None:
    if not (MODEL_DIR / TOKENIZATION_FILE).is_file():
        raise PipelineError(f"{MODEL_DIR}: no trained model; run `dvc repro train` first")
    # A SavedModel is TensorFlow's: a keras_hub model trained on any backend is loaded on TensorFlow here (its
    # weights file is backend-independent). Keras is not imported yet, so this picks its backend.
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import tensorflow as tf

    decision = read_decision(DECISION_FILE, trained_labels(MODEL_DIR)) if DECISION_FILE.is_file() else None
    if decision is None:
        log.info("%s: not found (run `dvc repro evaluate`); the SavedModel decides by arg-max", DECISION_FILE)
    module = build_serving_module(MODEL_DIR, decision)
    with atomic_path(SERVING_DIR) as out:
        tf.saved_model.save(module, str(out), signatures={"serving_default": module.serve,
                                                          "encode": module.encode})
    log.info("saved %s", SERVING_DIR)


if __name__ == "__main__":
    run_stage(main)
