"""The model card: a Hugging Face-style README for the trained model, written by `evaluate` from this run's
params, data report and test metrics, so it always matches the model it describes."""

from __future__ import annotations

from pathlib import Path

import yaml

from imdb_bert.decisions import Decision
from imdb_bert.files import atomic_path
from imdb_bert.params import Params

MODEL_CARD = Path("models/model_card.md")


def base_model_name(checkpoint: str) -> tuple[str, bool]:
    """(name, whether it is a Hub id): a local checkpoint directory is named by its last path component."""
    path = Path(checkpoint)
    if path.is_dir() or checkpoint.startswith((".", "/")):
        return path.name, False
    return checkpoint, True


def front_matter(params: Params, scores: dict, dataset: str) -> str:
    base, on_hub = base_model_name(params.model.checkpoint)
    f1_name = "F1 (" + ("of " + params.data.labels[1] if len(params.data.labels) == 2 else "macro") + ")"
    results = [{"type": "accuracy", "value": round(scores["accuracy"], 4), "name": "Test accuracy"},
               {"type": "f1", "value": round(scores["f1"], 4), "name": f"Test {f1_name}"}]
    if scores["roc_auc"] == scores["roc_auc"]:  # not NaN
        results.append({"type": "roc_auc", "value": round(scores["roc_auc"], 4), "name": "Test ROC AUC"})
    keras_hub = params.model.library == "keras_hub"
    meta = {
        "library_name": "keras-hub" if keras_hub else "transformers",
        "pipeline_tag": "text-classification",
        "tags": ["text-classification", "sentiment-analysis", "keras" if keras_hub else "tensorflow", "dvc"],
        **({"base_model": base} if on_hub and params.model.init == "pretrained" else {}),
        "datasets": [dataset],
        "metrics": ["accuracy", "f1", "roc_auc"],
        "model-index": [{"name": "imdb-sentiment", "results": [{
            "task": {"type": "text-classification", "name": "Text classification"},
            "dataset": {"name": dataset, "type": "csv", "split": "test"},
            "metrics": results}]}],
    }
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def table(columns: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|---" + "|---:" * (len(columns) - 1) + "|"]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows])


def number(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def with_interval(scores: dict, name: str) -> str:
    """The metric, and its 95% interval where evaluate computed one (`accuracy`; F1 and ROC AUC by bootstrap)."""
    if f"{name}_ci_low" not in scores:
        return number(scores[name])
    return f"{number(scores[name])} ({number(scores[f'{name}_ci_low'])}–{number(scores[f'{name}_ci_high'])})"


def render(params: Params, meta: dict, data_report: dict, train_metrics: dict, scores: dict,
           decision: Decision) -> str:
    labels, dataset = params.data.labels, Path(params.data.raw_csv).name
    base, on_hub = base_model_name(params.model.checkpoint)
    origin = (f"`{base}`" + ("" if on_hub else " (a local checkpoint directory)")
              if params.model.init == "pretrained" else f"randomly initialised weights with the configuration of "
                                                        f"`{base}`")
    parts = [front_matter(params, scores, dataset), "# imdb-sentiment\n",
             f"A sequence classifier fine-tuned from {origin} to label reviews as {', '.join(labels)}. This card is "
             f"written by the pipeline's `evaluate` stage: every number below is from the run that produced the "
             f"model.\n",
             *data_section(params, data_report, dataset),
             *procedure_section(params, meta, train_metrics),
             *evaluation_section(params, scores),
             "### Decision\n",
             decision_text(scores, decision) + "\n",
             *limitations_section(params, scores, decision, dataset),
             "## How to use\n",
             "With the pipeline (cleaning, tokenization, temperature and threshold as evaluated):\n",
             "```bash\nimdb-predict \"A wonderful, moving film.\"\n```\n",
             *(how_to_load_keras_hub(params.tokenize.max_length) if params.model.library == "keras_hub"
               else how_to_load_transformers(params.tokenize.max_length)),
             "To publish the model on the Hugging Face Hub, copy this file into the model directory as `README.md`.\n"]
    return "\n".join(parts)


def data_section(params: Params, data_report: dict, dataset: str) -> list[str]:
    labels, splits = params.data.labels, data_report["splits"]
    return ["## Training data\n",
            f"`{dataset}`: {data_report['rows_read']:,} rows read; removed: "
            f"{', '.join(f'{k} {v:,}' for k, v in data_report['rows_removed'].items()) or 'none'}; "
            f"{data_report['rows_kept']:,} kept"
            + (", `<br />` line breaks replaced by spaces" if params.data.strip_html else "")
            + f". Split with seed {params.data.seed}, stratified:\n",
            table(["split", "rows", *labels],
                  [[name, f"{splits[name]['rows']:,}", *(f"{splits[name].get(label, 0):,}" for label in labels)]
                   for name in ("train", "validation", "test")]) + "\n"]


def procedure_section(params: Params, meta: dict, train_metrics: dict) -> list[str]:
    train, tokenize = params.train, params.tokenize
    return ["## Training procedure\n",
            table(["param", "value"], [
                ["tokenize.max_length / truncation", f"{tokenize.max_length} / {tokenize.truncation}"],
                ["share of test reviews longer than max_length",
                 number(meta["splits"]["test"].get("share_truncated"), 3)],
                ["train.epochs / batch_size", f"{train.epochs} / {train.batch_size}"],
                ["train.optimizer / learning_rate", f"{train.optimizer} / {train.learning_rate:g}"],
                ["train.weight_decay / warmup_ratio", f"{train.weight_decay:g} / {train.warmup_ratio:g}"],
                ["train.class_weight", train.class_weight or "none"],
                ["train.seed", train.seed],
                ["epoch kept (lowest validation loss)", train_metrics.get("best_epoch", "the last")],
            ]) + "\n"]


def evaluation_section(params: Params, scores: dict) -> list[str]:
    labels = params.data.labels
    of_class = f" of {labels[1]}" if len(labels) == 2 else " (macro)"
    bootstrap = (f" (95% bootstrap interval, {params.evaluate.bootstrap_resamples:,} resamples)"
                 if "f1_ci_low" in scores else "")
    return [f"## Evaluation (test split, {scores['examples']:,} reviews)\n",
            table(["metric", "value"], [
                ["accuracy (95% Wilson interval)", with_interval(scores, "accuracy")],
                ["precision / recall" + of_class, f"{number(scores['precision'])} / {number(scores['recall'])}"],
                ["F1" + of_class + bootstrap, with_interval(scores, "f1")],
                ["macro F1", number(scores["macro_f1"])],
                ["ROC AUC" + ("" if len(labels) == 2 else " (one-vs-rest, macro)") + bootstrap,
                 with_interval(scores, "roc_auc")],
                ["cross-entropy loss", number(scores["loss"])],
                ["expected calibration error (15 bins)", number(scores["ece"])],
            ]) + "\n",
            "Per class:\n",
            table(["label", "precision", "recall", "F1", "support"],
                  [[label, number(value["precision"]), number(value["recall"]), number(value["f1"]),
                    f"{value['support']:,}"] for label, value in scores["per_class"].items()]) + "\n",
            "By review length (tokens before truncation; `truncated` = longer than max_length):\n",
            table(["length", "reviews", "accuracy"],
                  [[name, f"{value['count']:,}", number(value["accuracy"])]
                   for name, value in scores["slices"].items()]) + "\n"]


def limitations_section(params: Params, scores: dict, decision: Decision, dataset: str) -> list[str]:
    tokenize = params.tokenize
    long_reviews = ("scored over overlapping windows with averaged logits, by `predict`, the server and the "
                    "exported SavedModel alike." if decision.long_reviews == "windows" else
                    f"truncated ({tokenize.truncation}); see the `truncated` row above for what that costs.")
    return ["## Intended use and limitations\n",
            f"- For English texts like the training data (`{dataset}`), labelled {', '.join(params.data.labels)}. "
            f"On other domains, measure before trusting it.\n"
            f"- Measured on {scores['examples']:,} test reviews: the accuracy's 95% interval is "
            f"{number(scores['accuracy_ci_low'], 3)}–{number(scores['accuracy_ci_high'], 3)}; differences "
            f"smaller than that between models are noise.\n"
            f"- Reviews longer than {tokenize.max_length} tokens: {long_reviews}\n"
            "- It learns the biases of its training reviews; do not use it to judge people.\n"]


def how_to_load_transformers(max_length: int) -> list[str]:
    return ["With transformers alone (arg-max without temperature or threshold, and head truncation, so the "
            "figures above may differ slightly):\n",
            "```python\nfrom transformers import AutoTokenizer, TFAutoModelForSequenceClassification\n\n"
            "tokenizer = AutoTokenizer.from_pretrained(\"models/model\")\n"
            "model = TFAutoModelForSequenceClassification.from_pretrained(\"models/model\")\n"
            f"inputs = tokenizer([\"A wonderful, moving film.\"], truncation=True, max_length={max_length}, "
            "return_tensors=\"tf\")\n"
            "print(model.config.id2label[int(model(**inputs).logits.numpy().argmax())])\n```\n"]


def how_to_load_keras_hub(max_length: int) -> list[str]:
    return ["With Keras and KerasHub alone, on any backend (arg-max without temperature or threshold, and head "
            "truncation, so the figures above may differ slightly):\n",
            "```python\nimport json\n\nimport keras\nimport keras_hub  # noqa: F401 (registers the model classes)\n"
            "from transformers import AutoTokenizer\n\n"
            "model = keras.saving.deserialize_keras_object(json.load(open(\"models/model/keras_model.json\")))\n"
            "model.load_weights(\"models/model/model.weights.h5\")\n"
            "labels = json.load(open(\"models/model/model.json\"))[\"labels\"]\n"
            "tokenizer = AutoTokenizer.from_pretrained(\"models/model\")\n"
            f"encoded = tokenizer([\"A wonderful, moving film.\"], truncation=True, max_length={max_length}, "
            "return_tensors=\"np\")\n"
            "inputs = {\"token_ids\": encoded[\"input_ids\"], \"padding_mask\": encoded[\"attention_mask\"],\n"
            "          \"segment_ids\": encoded[\"input_ids\"] * 0}  # RoBERTa and DistilBERT take no segment_ids\n"
            "print(labels[int(model.predict(inputs).argmax())])\n```\n"]


def decision_text(scores: dict, decision: Decision) -> str:
    """The decision applied, and why: a value fitted on validation is applied only when it holds up there."""
    lines = []
    if "temperature_scaled" in scores:
        scaled = scores["temperature_scaled"]
        state = "applied" if scaled.get("applied", True) else "not applied"
        lines.append(f"- Temperature scaling, fitted on the validation split: T = {scaled['temperature']:g}, {state}. "
                     f"With it on test, ECE {number(scores['ece'])} -> {number(scaled['ece'])}, loss "
                     f"{number(scores['loss'])} -> {number(scaled['loss'])}.")
    else:
        lines.append("- No temperature scaling (`evaluate.calibrate: false`, or no validation split).")
    if "threshold" in scores:
        at = scores["threshold"]
        state = "applied" if decision.threshold is not None else "not applied (arg-max)"
        lines.append(f"- Decision threshold on the probability of {decision.labels[1]}, fitted on the validation "
                     f"split: {at['value']:g}, {state}. At it on test: accuracy {number(at['accuracy'])} (arg-max "
                     f"{number(scores['accuracy'])}), F1 {number(at['f1'])} (arg-max {number(scores['f1'])}).")
    else:
        lines.append("- Labels are decided by arg-max (no threshold).")
    lines.append(f"- Reviews longer than max_length: scored over windows starting every {decision.window_stride} "
                 f"tokens, logits averaged." if decision.long_reviews == "windows" else
                 "- Reviews longer than max_length: truncated as in training.")
    reasons = [(name, getattr(decision, f"{name}_reason", "")) for name in ("temperature", "threshold",
                                                                            "long_reviews")]
    if any(reason for _, reason in reasons):
        lines += ["", "Why (a temperature or threshold fitted on validation is applied only when it beats the "
                      "model's own probabilities on validation reviews it was not fitted on, p < 0.05):", ""]
        lines += [f"- {name}: {reason}" for name, reason in reasons if reason]
    return "\n".join(lines) + "\n"


def write_model_card(path: Path, params: Params, meta: dict, data_report: dict, train_metrics: dict, scores: dict,
                     decision: Decision) -> None:
    with atomic_path(path) as partial:
        partial.write_text(render(params, meta, data_report, train_metrics, scores, decision), encoding="utf-8")
