"""Build demo/tiny-bert: a tiny BERT config and a WordPiece vocabulary trained on the sample's train split.

Run from the project root: `python demo/make_tiny_bert.py`. The result is committed; the demo trains
its weights from scratch (`model.init: random`), so it needs no download.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import BertWordPieceTokenizer, processors
from transformers import BertConfig, BertTokenizerFast

from imdb_bert.data import read_reviews
from imdb_bert.params import load_params
from imdb_bert.stages.split import split_reviews

OUT = Path("demo/tiny-bert")
VOCAB_SIZE = 2000
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_texts(params_file: str = "demo/params.yaml") -> list[str]:
    """The texts of the train split exactly as the `split` stage makes it from the demo params."""
    data = load_params(params_file).data
    reviews = read_reviews(data.raw_csv, data.text_column, data.label_column, data.labels)
    splits, _ = split_reviews(reviews, data)
    return splits["train"]["text"].tolist()


def build(out: Path = OUT) -> None:
    wordpiece = BertWordPieceTokenizer(lowercase=True)
    wordpiece.train_from_iterator(train_texts(), vocab_size=VOCAB_SIZE, min_frequency=2,
                                  special_tokens=SPECIAL_TOKENS, show_progress=False)
    # [CLS] text [SEP], as BERT's own tokenizers do (the processor needs the ids, known only after training).
    wordpiece.post_processor = processors.BertProcessing(*(
        (token, wordpiece.token_to_id(token)) for token in ("[SEP]", "[CLS]")))
    tokenizer = BertTokenizerFast(tokenizer_object=wordpiece._tokenizer, do_lower_case=True, model_max_length=512,
                                  **dict(zip(("pad_token", "unk_token", "cls_token", "sep_token", "mask_token"),
                                             SPECIAL_TOKENS, strict=True)))
    tokenizer.save_pretrained(out)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=512, pad_token_id=0)
    config.save_pretrained(out)
    print(f"wrote {out}: vocabulary of {len(tokenizer)}, {config.num_hidden_layers} layers of {config.hidden_size}")


if __name__ == "__main__":
    build()
