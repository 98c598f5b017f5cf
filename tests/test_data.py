"""Data: the UCI sources read as published, users' files, getting the files, the held-out split."""

import json
import zipfile

import numpy as np
import pytest

from sweeplab import data
from sweeplab.errors import SweepLabError


@pytest.mark.parametrize("source", ["yelp", "amazon", "imdb"])
def test_each_source_has_1000_balanced_rows(source, uci_dir):
    dataset = data.load_source(source, uci_dir)
    assert len(dataset.texts) == 1000 and dataset.classes == [0, 1]
    assert dataset.integrity["class_counts"] == {"0": 500, "1": 500}
    assert dataset.integrity["sha256"] == data.SOURCES[source][1]
    assert all(isinstance(t, str) and t and t == t.strip() for t in dataset.texts)


def test_imdb_keeps_quotes_and_nel_characters_inside_sentences(uci_dir):
    texts = data.load_source("imdb", uci_dir).texts
    assert sum("\x85" in t for t in texts) == 2  # U+0085 is not a line break here
    assert any(t.endswith('faux "masterpieces.') for t in texts)  # an unbalanced quote does not join lines


def test_all_pools_the_three_sources(uci_dir):
    pooled = data.load_source("all", uci_dir)
    assert len(pooled.texts) == 3000 and pooled.integrity["class_counts"] == {"0": 1500, "1": 1500}
    assert {s: int((pooled.sources == s).sum()) for s in data.SOURCES} == {"yelp": 1000, "amazon": 1000, "imdb": 1000}


def test_missing_and_tampered_files_say_how_to_fix(tmp_path, uci_dir):
    with pytest.raises(SweepLabError, match="not found: run 'make data'"):
        data.load_source("yelp", tmp_path)
    (tmp_path / "yelp_labelled.txt").write_bytes((uci_dir / "yelp_labelled.txt").read_bytes() + b"x\t1\n")
    with pytest.raises(SweepLabError, match="is not the published"):
        data.load_source("yelp", tmp_path)


def test_user_csv_with_string_labels_and_three_classes(tmp_path):
    path = tmp_path / "topics.csv"
    path.write_text('body,topic\n"sports, mostly",sport\nstocks fell,finance\nnew phone,tech\ngoal!,sport\n')
    dataset = data.load_file(path, text_col="body", label_col="topic")
    assert dataset.classes == ["finance", "sport", "tech"]
    assert dataset.labels.tolist() == [1, 0, 2, 1]
    assert dataset.texts[0] == "sports, mostly" and dataset.texts.dtype == object
    assert dataset.integrity["rows"] == 4 and dataset.integrity["class_counts"] == {"finance": 1, "sport": 2, "tech": 1}
    assert dataset.name == "topics" and len(dataset.integrity["sha256"]) == 64


def test_user_tsv_and_jsonl(tmp_path):
    tsv = tmp_path / "a.tsv"
    tsv.write_text("text\tlabel\ngood\t1\nbad\t0\n")
    assert data.load_file(tsv).labels.tolist() == [1, 0]
    jsonl = tmp_path / "b.jsonl"
    jsonl.write_text("\n".join(json.dumps({"text": t, "label": l}) for t, l in [("x", "pos"), ("y", "neg")]))
    assert data.load_file(jsonl).classes == ["neg", "pos"]


@pytest.mark.parametrize("suffix, write", [
    (".csv", lambda rows: "text,label\n" + "".join(f"{t},{lab}\n" for t, lab in rows)),
    (".tsv", lambda rows: "text\tlabel\n" + "".join(f"{t}\t{lab}\n" for t, lab in rows)),
    (".jsonl", lambda rows: "".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows)),
])
def test_cells_mean_what_the_user_wrote(tmp_path, suffix, write):
    # pandas' defaults would call "None", "N/A" and the region code "NA" missing, and type a digit-only text.
    rows = [("None", "NA"), ("N/A", "EU"), ("12345", "NA"), ("nan", "EU"), ("null", "NA"), ("007", "EU")]
    path = tmp_path / f"regions{suffix}"
    path.write_text(write(rows), encoding="utf-8")
    dataset = data.load_file(path)
    assert dataset.texts.tolist() == ["None", "N/A", "12345", "nan", "null", "007"]
    assert dataset.classes == ["EU", "NA"] and dataset.labels.tolist() == [1, 0, 1, 0, 1, 0]
    assert dataset.notes == ()


def test_label_whitespace_is_stripped_and_counted(tmp_path):
    path = tmp_path / "padded.csv"
    path.write_text('text,label\ngood,pos\nfine,"pos "\nbad, neg\nawful,neg\n')
    dataset = data.load_file(path)
    assert dataset.classes == ["neg", "pos"] and dataset.integrity["class_counts"] == {"neg": 2, "pos": 2}
    assert dataset.notes == (f"{path}: column 'label': surrounding whitespace removed from 2 of 4 labels",)


@pytest.mark.parametrize("written, classes", [
    (["0", "1", "1", "0"], [0, 1]),  # plain integers: ints, ordered as numbers
    (["-1", "10", "2", "2"], [-1, 2, 10]),
    (["1", "1.0", "1", "1.0"], ["1", "1.0"]),  # not all plain integers: every label is its text
    (["01", "1", "01", "1"], ["01", "1"]),
    (["+1", "-1", "+1", "-1"], ["+1", "-1"]),
])
def test_one_rule_for_numeric_looking_labels(tmp_path, written, classes):
    path = tmp_path / "numbers.csv"
    path.write_text("text,label\n" + "".join(f"text {i},{lab}\n" for i, lab in enumerate(written)))
    assert data.load_file(path).classes == classes


def test_a_data_file_stem_becomes_a_safe_dataset_name(tmp_path):
    path = tmp_path / "my reviews (v2)\n.csv"
    path.write_text("text,label\ngood,1\nbad,0\n")
    assert data.load_file(path).name == "my_reviews_v2"


@pytest.mark.parametrize("content, args, fragment", [
    ("text,label\na,1\n", {"text_col": "review"}, "text column 'review' not found (columns: text, label)"),
    ("text,label\na,1\n", {"label_col": "y"}, "label column 'y' not found"),
    ("text,label\na,1\n,0\n", {}, "column 'text' is empty on 1 row (line 3)"),
    ("text,label\na,1\nb,\n", {}, "column 'label' is empty on 1 row (line 3)"),
    ("text,label\na,1\nb,1\n", {}, "labels have a single class [1]"),
    ("text,label\n", {}, "no rows"),
])
def test_bad_user_files_name_file_and_column(tmp_path, content, args, fragment):
    path = tmp_path / "mine.csv"
    path.write_text(content)
    with pytest.raises(SweepLabError) as caught:
        data.load_file(path, **args)
    assert str(caught.value).startswith(str(path)) and fragment in str(caught.value)


def test_the_glove_mirror_is_named_by_its_own_variable(tmp_path, glove_file):
    with pytest.raises(SweepLabError, match=rf"^SWEEPLAB_GLOVE_MIRROR={tmp_path}: missing glove.6B.50d.subset.txt"):
        data.fetch_glove(tmp_path, tmp_path / "out" / "glove.txt")
    copied = data.fetch_glove(glove_file.parent, tmp_path / "out" / "glove.txt")
    assert copied.read_bytes() == glove_file.read_bytes()


def test_non_utf8_and_unknown_suffix(tmp_path):
    latin = tmp_path / "l.csv"
    latin.write_bytes("text,label\ncaf\xe9,1\nb,0\n".encode("latin-1"))
    with pytest.raises(SweepLabError, match="not valid UTF-8"):
        data.load_file(latin)
    with pytest.raises(SweepLabError, match="unsupported file type '.xlsx'"):
        data.load_file(tmp_path / "x.xlsx")


def test_fetch_copies_from_a_mirror_and_is_idempotent(tmp_path, uci_dir):
    target = tmp_path / "data"
    data.fetch(target, mirror=uci_dir)
    assert set(data.check(target).values()) == {"ok"}
    before = (target / "imdb_labelled.txt").stat().st_mtime_ns
    data.fetch(target, mirror=tmp_path / "nowhere")  # nothing missing: the mirror is not even read
    assert (target / "imdb_labelled.txt").stat().st_mtime_ns == before


def test_fetch_refuses_a_bad_copy_and_writes_nothing(tmp_path, uci_dir):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in ["yelp_labelled.txt", "amazon_cells_labelled.txt", "readme.txt"]:
        (mirror / name).write_bytes((uci_dir / name).read_bytes())
    (mirror / "imdb_labelled.txt").write_bytes(b"edited\t1\n")
    with pytest.raises(SweepLabError, match="imdb_labelled.txt: sha256 .* does not match"):
        data.fetch(tmp_path / "out", mirror=mirror)
    assert not any((tmp_path / "out").glob("*.txt"))


def test_fetch_downloads_and_unpacks_the_archive(tmp_path, uci_dir):
    archive = tmp_path / "sentiment.zip"
    with zipfile.ZipFile(archive, "w") as zf:  # the published layout: a folder, plus macOS resource forks
        for name in ["yelp_labelled.txt", "amazon_cells_labelled.txt", "imdb_labelled.txt", "readme.txt"]:
            zf.write(uci_dir / name, f"sentiment labelled sentences/{name}")
            zf.writestr(f"__MACOSX/sentiment labelled sentences/._{name}", b"junk")
    target = data.fetch(tmp_path / "data", url=archive.as_uri())
    assert set(data.check(target).values()) == {"ok"}


def test_download_failure_explains_the_mirror(tmp_path):
    with pytest.raises(SweepLabError, match="could not download .* set SWEEPLAB_DATA_MIRROR"):
        data.fetch(tmp_path, url=(tmp_path / "absent.zip").as_uri())


def test_holdout_split_is_stratified_and_fixed(uci_dir):
    dataset = data.load_source("amazon", uci_dir)
    X_train, X_test, y_train, y_test = data.holdout_split(dataset, 0.25, 1000)
    assert len(X_test) == 250 and np.bincount(y_test).tolist() == [125, 125]
    again = data.holdout_split(dataset, 0.25, 1000)
    assert list(again[1]) == list(X_test) and len(X_train) + len(X_test) == 1000
