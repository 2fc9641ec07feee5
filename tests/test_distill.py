"""Distillation on the demo: student surgery, the loss, batches, a real run killed with -9 and resumed,
the saved student in transformers and faster-whisper, evaluation, and two processes under accelerate."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.distill.data import (
    CACHES, ENCODER, IGNORE, Batch, Entry, Pair, TeacherCache, aligned_rows, cache_entries, fill_cache, heldout_split,
    kept_targets, target_tokens, vocabulary_map,
)
from engine.distill.jobs import (
    CHECKPOINT, EVAL, LOG, METRICS, STUDENT, STUDENT_CT2, JobRunning, running_job, start_job, workspace_lock,
)
from engine.distill.student import layer_map, student_from_teacher
from engine.distill.train import DistillConfig, kd_loss, lr_factor, rows_for
from engine.io.audio import SAMPLE_RATE, load_audio
from engine.io.recipe import KeepBest, Recipe
from tests.conftest import DEMO_MANIFEST, copy_workspace

STEPS = 8
# A few kept clips keep the teacher pass short; the whole train split is one batch, so every step sees it.
COMMON = ["--student", "pruned", "--lr", "3e-4", "--heldout-fraction", "0.25", "--checkpoint-every", "2", "--eval-every", "4"]
TINY = ["--max-steps", str(STEPS), "--batch-size", "6", *COMMON]


def test_layer_map_spreads_layers_evenly_keeping_first_and_last():
    assert layer_map(6, 2) == [0, 5]
    assert layer_map(6, 3) == [0, 2, 5] or layer_map(6, 3) == [0, 3, 5]
    assert layer_map(32, 2) == [0, 31]
    assert layer_map(4, 4) == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        layer_map(6, 7)


@pytest.fixture(scope="module")
def teacher():
    from transformers import WhisperForConditionalGeneration

    from engine.teacher.convert import hf_teacher_dir

    return WhisperForConditionalGeneration.from_pretrained(hf_teacher_dir()).eval()


def test_student_copies_teacher_layers_and_ties_embeddings(teacher):
    student = student_from_teacher(teacher, decoder_layers=2)
    assert (student.config.encoder_layers, student.config.decoder_layers) == (6, 2)
    assert student.proj_out.weight is student.model.decoder.embed_tokens.weight
    for s, t in ((0, 0), (1, 5)):
        assert torch.equal(student.model.decoder.layers[s].fc1.weight, teacher.model.decoder.layers[t].fc1.weight)
    assert torch.equal(student.model.encoder.layers[3].fc2.weight, teacher.model.encoder.layers[3].fc2.weight)
    assert all(layer < 2 for layer, _ in student.generation_config.alignment_heads)


def test_targets_carry_language_and_task_tokens(teacher):
    from transformers import WhisperProcessor

    from engine.teacher.convert import hf_teacher_dir

    tokenizer = WhisperProcessor.from_pretrained(hf_teacher_dir()).tokenizer
    ids = target_tokens(tokenizer, "Guten Tag.", "de", True, 448)
    assert tokenizer.convert_ids_to_tokens(ids[:4]) == ["<|startoftranscript|>", "<|de|>", "<|transcribe|>", "<|notimestamps|>"]
    assert ids[-1] == tokenizer.convert_tokens_to_ids("<|endoftext|>")
    assert tokenizer.decode(ids[4:-1]).strip() == "Guten Tag."
    assert len(target_tokens(tokenizer, "word " * 500, "en", True, 448)) <= 4 + 225 + 1


def test_kd_loss_is_ce_alone_when_the_student_is_the_teacher():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 10)
    labels = torch.tensor([[1, 2, IGNORE], [3, IGNORE, IGNORE]])
    top = logits.topk(10, dim=-1)  # k = vocabulary: the teacher's distribution exactly
    batch = Batch(torch.zeros(2), torch.zeros(2, 3, dtype=torch.long), labels, top.values, top.indices,
                  torch.ones(2, 3, dtype=torch.bool))
    loss, ce, kl = kd_loss(logits, batch, DistillConfig())
    assert float(kl) == pytest.approx(0.0, abs=1e-5)
    assert float(loss) == pytest.approx(0.8 * float(ce))
    worse = kd_loss(torch.randn(2, 3, 10), batch, DistillConfig())[2]
    assert float(worse) > 0.01
    unknown = Batch(batch.inputs, batch.decoder_input_ids, labels, top.values, top.indices,
                    torch.zeros(2, 3, dtype=torch.bool))
    assert float(kd_loss(torch.randn(2, 3, 10), unknown, DistillConfig())[2]) == 0.0  # no teacher row: CE only


def test_each_epoch_visits_every_training_row_once_split_across_ranks():
    train = np.arange(20)
    config = DistillConfig(batch_size=5, seed=3)
    seen = [rows_for(step, 0, rank, 2, train, config) for step in range(2) for rank in range(2)]
    assert sorted(np.concatenate(seen).tolist()) == train.tolist()
    assert not np.array_equal(rows_for(0, 0, 0, 2, train, config), rows_for(2, 0, 0, 2, train, config))


def test_schedule_warms_up_then_decays_to_zero():
    factors = [lr_factor(s, 2, 10) for s in range(10)]
    assert factors[:2] == [0.5, 1.0] and factors[2] == 1.0
    assert factors[-1] == pytest.approx(1 / 8) and all(a >= b for a, b in zip(factors[2:], factors[3:]))


def test_heldout_split_is_seeded_and_never_takes_everything():
    train, held = heldout_split(10, 0.2, seed=1)
    assert len(held) == 2 and set(train) | set(held) == set(range(10)) and not set(train) & set(held)
    assert np.array_equal(held, heldout_split(10, 0.2, seed=1)[1])
    assert len(heldout_split(1, 0.5, seed=0)[0]) == 1
    assert len(heldout_split(5, 0.1, seed=0)[1]) == 1  # a tiny kept set still gets a held-out check


def test_config_round_trips_and_rejects_bad_values():
    config = DistillConfig(decoder_layers=3, max_steps=5, freeze_encoder=True)
    assert DistillConfig.from_yaml(config.to_yaml()) == config
    for bad in ({"batch_size": 0}, {"alpha_ce": 0, "alpha_kl": 0}, {"precision": "int4"}, {"heldout_fraction": 1}):
        with pytest.raises(ValueError):
            DistillConfig(**bad)
    with pytest.raises(ValueError, match="unknown"):
        DistillConfig.from_yaml("learning_rate: 1")


@pytest.fixture(scope="module")
def tiny(demo_workspace, tmp_path_factory):
    """A copy of the scored demo and a recipe keeping its 15 % most confident clips (8 clips)."""
    root = tmp_path_factory.mktemp("distill")
    ws = copy_workspace(demo_workspace, root / "ws")
    recipe = root / "tiny.yaml"
    recipe.write_text(Recipe(keep_best=KeepBest("confidence", 15)).to_yaml())
    return ws, recipe


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "whisper_curator", *args]


def _steps(run: Path) -> list[dict]:
    if not (run / METRICS).is_file():
        return []
    return [json.loads(line) for line in (run / METRICS).read_text().splitlines() if '"loss"' in line]


@pytest.fixture(scope="module")
def resumed_run(tiny):
    """`whisper-curator distill` killed with -9 after its first checkpoint, then run again to the end."""
    ws, recipe = tiny
    command = _cli("distill", str(ws.root), "--out", "tiny", "--recipe", str(recipe), *TINY)
    run = ws.path("runs") / "tiny"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 600
    while len(_steps(run)) < 3 and process.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, process.stderr.read().decode()[-2000:]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = _steps(run)
    checkpoint_step = torch.load(run / CHECKPOINT, weights_only=False)["step"]
    assert 2 <= checkpoint_step < STEPS
    finished = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert finished.returncode == 0, finished.stderr[-2000:]
    return run, before, checkpoint_step, finished.stdout


def test_resume_after_kill_continues_from_the_last_checkpoint(resumed_run, tiny):
    run, before, checkpoint_step, _ = resumed_run
    steps = _steps(run)
    assert [s["step"] for s in steps] == list(range(1, STEPS + 1))  # redone steps replaced, not repeated
    assert steps[:checkpoint_step] == before[:checkpoint_step]
    assert f"resumed from the checkpoint at step {checkpoint_step}" in (run / LOG).read_text()
    clips = torch.load(run / CHECKPOINT, weights_only=False)["clips"]  # what a resume keeps if the recipe changes
    assert [c["id"] for c in clips] == list(kept_targets(tiny[0], tiny[1])["id"])


def test_training_lowers_the_loss(resumed_run):
    losses = [s["loss"] for s in _steps(resumed_run[0])]
    assert np.mean(losses[-2:]) < 0.7 * np.mean(losses[:2])


def test_run_reports_teacher_vs_student(resumed_run):
    run, _, _, stdout = resumed_run
    report = json.loads((run / EVAL).read_text())
    teacher, student = report["models"]["teacher"], report["models"]["student"]
    assert report["split"] == "held-out" and report["clips"] == 2 and report["labelled_clips"] >= 1
    assert student["parameters"] < 0.8 * teacher["parameters"] and student["decoder_layers"] == 2
    assert teacher["wer"] is not None and teacher["rtfx"] > 0 and student["rtfx"] > 0
    assert "| parameters |" in stdout and "distilled 8 steps" in stdout


def test_student_runs_in_the_transformers_pipeline(resumed_run, tiny):
    from transformers import pipeline

    asr = pipeline("automatic-speech-recognition", model=str(resumed_run[0] / STUDENT))
    assert asr.model.config.decoder_layers == 2
    audio = load_audio(tiny[0].table().iloc[0]["audio_filepath"]).samples  # a path would need ffmpeg
    assert isinstance(asr({"raw": audio, "sampling_rate": SAMPLE_RATE}, generate_kwargs={"max_new_tokens": 20})["text"], str)


def test_student_runs_in_faster_whisper(resumed_run, tiny):
    from faster_whisper import WhisperModel

    model = WhisperModel(str(resumed_run[0] / STUDENT_CT2), device="cpu", compute_type="int8")
    segments, info = model.transcribe(tiny[0].table().iloc[0]["audio_filepath"], beam_size=1, temperature=0.0,
                                      condition_on_previous_text=False, without_timestamps=True)
    list(segments)
    assert info.language and 0 < info.language_probability <= 1


def test_a_wider_kept_set_runs_the_teacher_only_on_new_clips(resumed_run, tiny, teacher, tmp_path):
    from transformers import WhisperProcessor

    from engine.teacher.convert import hf_teacher_dir

    ws = tiny[0]
    (store,) = (ws.path("runs") / CACHES).iterdir()  # the tiny run's store: one file per kept clip
    before = {f.name: f.stat().st_mtime_ns for f in store.glob("*.npz")}
    wider = tmp_path / "wider.yaml"
    wider.write_text(Recipe(keep_best=KeepBest("confidence", 20)).to_yaml())
    rows = kept_targets(ws, wider)
    gone = rows["audio_filepath"].iloc[0] + ".gone"
    rows.loc[rows.index[0], "audio_filepath"] = gone  # one clip whose audio went missing
    student = student_from_teacher(teacher, 2)
    processor = WhisperProcessor.from_pretrained(hf_teacher_dir())
    pair = Pair(teacher, student, (processor, processor), shares_encoder=True)
    entries, skipped = cache_entries(rows, pair.tokenizers, (teacher.config, student.config))
    assert list(skipped) == [rows["id"].iloc[0]] and "No such file" in skipped[rows["id"].iloc[0]]
    calls = []
    fill_cache(entries, store, pair, 32, ENCODER, progress=lambda done, n: calls.append((done, n)))
    new = len(entries) - len(set(before) & {e.name for e in entries})
    assert 0 < new < len(entries) and calls[-1] == (new, new)  # only the clips the tiny run did not keep
    assert all(store.joinpath(name).stat().st_mtime_ns == t for name, t in before.items())  # old files untouched
    cache = TeacherCache(store, entries, ENCODER)
    batch = cache.batch(np.arange(len(cache)))
    assert len(cache) == len(entries) and batch.inputs.shape == (len(entries), 1500, 512)
    assert (batch.labels != IGNORE).sum() == sum(len(e.tokens) - 1 for e in entries)


def test_eval_command_compares_on_a_test_manifest(resumed_run, tiny, tmp_path):
    ws = tiny[0]
    rows = ws.table().query("status == 'ok' and text.notna()").head(2)
    manifest = tmp_path / "test.jsonl"
    manifest.write_text("".join(json.dumps({"audio_filepath": p, "text": t, "lang": "en"}) + "\n"
                                for p, t in zip(rows["audio_filepath"], rows["text"])))
    done = subprocess.run(_cli("eval", str(resumed_run[0]), "--test", str(manifest)), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| WER (2 labelled clips) |" in done.stdout
    report = json.loads((resumed_run[0] / "eval-test.json").read_text())
    assert report["labelled_clips"] == 2 and report["split"].startswith("test")


def test_a_second_job_on_the_workspace_is_refused(tiny, tmp_path):
    ws = tiny[0]
    run = ws.path("runs") / "holder"
    run.mkdir(parents=True, exist_ok=True)
    with workspace_lock(ws, run):
        assert running_job(ws) == run
        with pytest.raises(JobRunning, match="already running"):
            start_job(ws, ws.path("runs") / "second", tmp_path / "config.yaml")
    assert running_job(ws) is None


def test_two_cpu_processes_under_accelerate(resumed_run, tiny):
    ws, recipe = tiny
    # --multi_gpu is accelerate's multi-process launcher; without CUDA its processes meet over gloo on the CPU
    # (`--cpu` alone would start a single process).
    command = [str(Path(sys.executable).parent / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "whisper_curator", "distill",
               str(ws.root), "--out", "ddp", "--recipe", str(recipe), "--max-steps", "2", "--batch-size", "3", *COMMON]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    run = ws.path("runs") / "ddp"
    log = (run / LOG).read_text()
    assert "on 2 process(es) (gloo)" in log and "caching the teacher" not in log  # the tiny run's cache is reused
    assert [s["step"] for s in _steps(run)] == [1, 2]
    assert (run / STUDENT_CT2 / "model.bin").is_file()


@pytest.fixture(scope="module")
def tokenizers():
    """(teacher's, tiny.en's) tokenizers: the multilingual and the English-only BPE."""
    from transformers import WhisperProcessor

    from engine.distill.student import student_source_dir
    from engine.teacher.convert import hf_teacher_dir

    return tuple(WhisperProcessor.from_pretrained(d).tokenizer for d in (hf_teacher_dir(), student_source_dir(None)))


def test_a_shared_vocabulary_aligns_every_row_with_itself(tokenizers):
    teacher = tokenizers[0]
    tokens = target_tokens(teacher, "The colour of the harbour.", "en", True, 448)
    assert aligned_rows(Entry("a", "a.wav", tokens, tokens, "a.npz"), (teacher, teacher)).tolist() == list(range(len(tokens) - 1))
    assert np.array_equal(vocabulary_map(teacher, teacher), np.arange(len(teacher)))


def test_tiny_en_rows_align_with_teacher_rows_that_predict_from_the_same_text(tokenizers):
    teacher, student = tokenizers
    text = "And Mr. John Dashwood had then leisure; the harbour is colourful."
    teacher_tokens, tokens = target_tokens(teacher, text, "en", True, 448), target_tokens(student, text, "en", False, 448)
    assert teacher_tokens[4:] != tokens[2:]  # the two vocabularies cut and number the text differently
    rows = aligned_rows(Entry("a", "a.wav", tokens, teacher_tokens, "a.npz"), tokenizers)
    aligned = [(r, q) for r, q in enumerate(rows) if q >= 0]
    assert rows[0] == -1 and len(aligned) > 0.6 * (len(tokens) - 3)  # the prompts differ; most words align
    for r, q in aligned:  # the same text before each aligned prediction
        assert student.decode(tokens[2:r + 1]) == teacher.decode(teacher_tokens[4:q + 1])
    assert rows[-1] == len(teacher_tokens) - 2  # both predict <|endoftext|> after the whole label
    mapping = vocabulary_map(teacher, student)
    eot = "<|endoftext|>"
    assert mapping[teacher.convert_tokens_to_ids(eot)] == student.convert_tokens_to_ids(eot)
    assert (mapping >= 0).mean() > 0.5 and mapping[teacher.convert_tokens_to_ids("<|de|>")] >= 0


@pytest.fixture(scope="module")
def tiny_en_cache(teacher, tmp_path_factory):
    """Two demo clips cached for an untouched tiny.en student: (student, its tokenizer, TeacherCache)."""
    import pandas as pd
    from transformers import WhisperProcessor

    from engine.distill.student import build_student
    from engine.teacher.convert import hf_teacher_dir

    student, source = build_student("smaller", teacher, hf_teacher_dir())
    pair = Pair(teacher, student.eval(), tuple(WhisperProcessor.from_pretrained(d) for d in (hf_teacher_dir(), source)),
                shares_encoder=False)
    rows = pd.DataFrame({"id": ["a", "b"], "lang": ["en", "en"],
                         "audio_filepath": [str(DEMO_MANIFEST.parent / "clips" / f"real_000{i}.flac") for i in (1, 2)],
                         "text": ["And Mr. John Dashwood had then leisure to consider how much there might be "
                                  "prudently in his power to do for them.", "He was not an ill-disposed young man,"]})
    entries, skipped = cache_entries(rows, pair.tokenizers, (teacher.config, student.config))
    store = tmp_path_factory.mktemp("tiny-en-cache")
    assert not skipped and fill_cache(entries, store, pair, 16, ENCODER) == {}
    return student, pair.tokenizers[1], TeacherCache(store, entries, ENCODER)


def test_a_smaller_student_gets_targets_in_its_own_vocabulary(tiny_en_cache):
    student, tokenizer, cache = tiny_en_cache
    batch = cache.batch(np.arange(2))
    assert batch.inputs.shape == (2, 1500, student.config.d_model)  # tiny.en's own encoder outputs
    known = batch.kd_mask & (batch.labels != IGNORE)
    assert 0.6 < known.sum() / (batch.labels != IGNORE).sum() < 1  # not the prompt row; most label rows
    assert (batch.topk_ids[known][:, 0] == batch.labels[known]).float().mean() > 0.9  # the teacher agrees with the label
    loss, ce, kl = kd_loss(student(encoder_outputs=(batch.inputs,), decoder_input_ids=batch.decoder_input_ids).logits,
                           batch, DistillConfig())
    assert torch.isfinite(loss) and float(ce) < 1.0  # tiny.en already reads these clips


def test_the_held_out_check_counts_loops(tiny_en_cache):
    from engine.distill.greedy import held_out_check

    student, tokenizer, cache = tiny_en_cache
    good = held_out_check(student, cache, np.arange(2), tokenizer, "cpu")
    assert good.loops == 0 and good.wer < 0.2

    class NeverEnds(torch.nn.Module):  # the student with <|endoftext|> forbidden: every transcript runs on
        def __init__(self):
            super().__init__()
            self.inner, self.config = student, student.config

        def forward(self, **inputs):
            out = self.inner(**inputs)
            out.logits[..., tokenizer.convert_tokens_to_ids("<|endoftext|>")] = float("-inf")
            return out

    assert held_out_check(NeverEnds(), cache, np.arange(2), tokenizer, "cpu").loops == 2


def test_early_stopping_keeps_the_best_check_and_counts_stale_ones():
    from engine.distill.train import BestTracker

    tracker = BestTracker(patience=2)
    assert tracker.better(10, 1, 0.10, 2.0) and tracker.better(20, 0, 0.30, 2.5)  # fewer loops beats lower WER
    assert not tracker.better(30, 0, 0.30, 2.6) and not tracker.converged()
    assert not tracker.better(40, 1, 0.05, 1.0) and tracker.converged() and tracker.step == 20
    assert not BestTracker(patience=0, stale=99).converged()


def test_a_looping_student_is_not_usable():
    from engine.distill.evaluate import verdict

    assert verdict({"hit_limit": 0}, 5) == "usable"
    assert verdict({"hit_limit": 2}, 5).startswith("not usable: 2 of 5 transcripts loop")


def _student_run(tiny, kind: str, steps: int) -> tuple[Path, str]:
    """`whisper-curator distill --student KIND` for a few steps on the tiny kept set: (run folder, stdout)."""
    ws, recipe = tiny
    command = _cli("distill", str(ws.root), "--out", kind, "--recipe", str(recipe), *COMMON,
                   "--student", kind, "--max-steps", str(steps), "--batch-size", "6")  # the last --student counts
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return ws.path("runs") / kind, done.stdout


@pytest.fixture(scope="module")
def smaller_run(tiny):
    """`whisper-curator distill --student smaller` (tiny.en) for a few steps on the tiny kept set."""
    return _student_run(tiny, "smaller", 3)


def test_a_smaller_student_trains_saves_and_loads_in_transformers_and_faster_whisper(smaller_run, tiny):
    from faster_whisper import WhisperModel
    from transformers import pipeline

    run, stdout = smaller_run
    report = json.loads((run / EVAL).read_text())
    assert report["models"]["student"]["parameters"] < 0.6 * report["models"]["teacher"]["parameters"]
    assert "Student: usable." in stdout or "Student: not usable" in stdout
    asr = pipeline("automatic-speech-recognition", model=str(run / STUDENT))
    assert asr.model.config.vocab_size == 51864 and asr.model.config.encoder_layers == 4  # tiny.en, English-only
    audio = load_audio(tiny[0].table().iloc[0]["audio_filepath"]).samples
    assert isinstance(asr({"raw": audio, "sampling_rate": SAMPLE_RATE}, generate_kwargs={"max_new_tokens": 20})["text"], str)
    model = WhisperModel(str(run / STUDENT_CT2), device="cpu", compute_type="int8")
    segments, _ = model.transcribe(tiny[0].table().iloc[0]["audio_filepath"], language="en", beam_size=1,
                                   condition_on_previous_text=False, without_timestamps=True)
    assert any(s.text.strip() for s in segments)


@pytest.fixture(scope="module")
def window_run(tiny):
    """`whisper-curator distill --student window` (the teacher's layers at a 10 s window) for two steps."""
    return _student_run(tiny, "window", 2)


def test_a_window_student_saves_its_window_for_transformers_faster_whisper_and_the_decode_path(window_run, tiny):
    from faster_whisper import WhisperModel
    from transformers import pipeline

    from engine.teacher import load_teacher
    from engine.teacher.options import TeacherOptions

    run, stdout = window_run
    assert json.loads((run / STUDENT / "config.json").read_text())["max_source_positions"] == 500
    for folder in (STUDENT, STUDENT_CT2):
        features = json.loads((run / folder / "preprocessor_config.json").read_text())
        assert (features["chunk_length"], features["n_samples"], features["nb_max_frames"]) == (10, 160_000, 1000)
    report = json.loads((run / EVAL).read_text())
    assert report["models"]["student"]["decoder_layers"] == 6 and "Student: " in stdout
    path = tiny[0].table().iloc[0]["audio_filepath"]
    asr = pipeline("automatic-speech-recognition", model=str(run / STUDENT))
    assert asr.feature_extractor.nb_max_frames == 1000  # transformers pads to the window and checks the length
    assert asr({"raw": load_audio(path).samples, "sampling_rate": SAMPLE_RATE}, generate_kwargs={"max_new_tokens": 20})["text"].strip()
    model = WhisperModel(str(run / STUDENT_CT2), device="cpu", compute_type="int8")
    assert (model.feature_extractor.chunk_length, model.feature_extractor.nb_max_frames) == (10, 1000)
    segments, _ = model.transcribe(path, language="en", beam_size=1, condition_on_previous_text=False,
                                   without_timestamps=True)  # faster-whisper pads each segment to 30 s: it must still run
    assert any(s.text.strip() for s in segments)
    decoder = load_teacher(TeacherOptions(teacher=str(run / STUDENT_CT2)))
    assert decoder.window_frames(SAMPLE_RATE) == 1000  # the project's decode path runs the encoder at the window
    assert decoder.run([load_audio(path).samples], ["en"])[0].text


def test_a_window_student_skips_clips_longer_than_its_window(tiny):
    ws, recipe = tiny
    durations = kept_targets(ws, recipe)["duration"]
    window = next(w for w in range(1, 30) if (durations <= w).sum() >= 2 and (durations > w).any())
    command = _cli("distill", str(ws.root), "--out", "short", "--recipe", str(recipe), *COMMON, "--student", "window",
                   "--window-seconds", str(window), "--max-steps", "1", "--batch-size", "6", "--no-evaluate")
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    log = (ws.path("runs") / "short" / LOG).read_text()
    assert log.count(f"than the student's {window} s window") == (durations > window).sum()


def test_the_experts_student_needs_languages_and_other_kinds_refuse_them():
    config = DistillConfig(student="experts", languages="de, fr", gate_budget=0.3)
    assert config.language_list == ("de", "fr") and config.window == 10  # a window student's window
    assert DistillConfig.from_yaml(config.to_yaml()) == config
    for bad in ({}, {"languages": ""}, {"languages": "de,de"}, {"languages": "de,"}, {"languages": "de", "gate_budget": 2}):
        with pytest.raises(ValueError):
            DistillConfig(student="experts", **bad)
    for kind in ("pruned", "smaller", "window"):
        for option in ({"languages": "de"}, {"gate_budget": 0.5}):
            with pytest.raises(ValueError, match="experts student only"):
                DistillConfig(student=kind, **option)


def tiny_teacher(folder: Path) -> Path:
    """A random two-layer Whisper with the bundled teacher's multilingual vocabulary and processor, saved as a
    transformers folder: a teacher for runs that only need to go end to end."""
    import copy

    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from engine.teacher.convert import hf_teacher_dir

    source = WhisperForConditionalGeneration.from_pretrained(hf_teacher_dir())
    config = copy.deepcopy(source.config)
    for name, value in {"d_model": 64, "encoder_layers": 2, "decoder_layers": 2, "encoder_attention_heads": 2,
                        "decoder_attention_heads": 2, "encoder_ffn_dim": 128, "decoder_ffn_dim": 128}.items():
        setattr(config, name, value)
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config)
    model.generation_config = copy.deepcopy(source.generation_config)
    model.generation_config.alignment_heads = [[1, 0], [1, 1]]
    model.save_pretrained(folder)
    processor = WhisperProcessor.from_pretrained(hf_teacher_dir())
    processor.save_pretrained(folder)
    processor.feature_extractor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def experts_run(tmp_path_factory):
    """An experts student of a tiny teacher trained for a few CPU steps on six tone clips, half German:
    (workspace, config, run folder, result)."""
    from engine.distill.train import distill
    from testing.dummies import dummy_workspace

    root = tmp_path_factory.mktemp("experts")
    ws = dummy_workspace(root / "ws", n=7)
    scores = ws.read_scores()
    scores["lang"] = ["en", "de"] * 3 + ["en"]
    scores["status"] = "ok"
    ws.write_scores(scores)
    config = DistillConfig(student="experts", languages="en,de", teacher=str(tiny_teacher(root / "teacher")),
                           max_steps=4, batch_size=4, lr=1e-2, heldout_fraction=0.3, eval_every=2, patience=0,
                           freeze_encoder=True)  # the CPU default, said outright: the test must not depend on CUDA
    return ws, config, root / "run", distill(ws, config, root / "run")


def test_an_experts_run_with_a_trained_encoder_gives_the_encoder_experts_too(experts_run):
    from dataclasses import replace

    from safetensors.torch import load_file

    from engine.distill.experts import CHILD
    from engine.distill.train import distill

    ws, config, run, _ = experts_run
    full = run.with_name("full")
    distill(ws, replace(config, freeze_encoder=False, max_steps=2, evaluate=False), full)
    assert "language experts for en, de on the encoder and decoder layers" in (full / LOG).read_text()
    trained = torch.load(full / CHECKPOINT, weights_only=False)["model"]
    untouched = load_file(str(full / STUDENT / "model.safetensors"))
    fc1 = f"model.encoder.layers.1.{CHILD}.experts.en.fc1.weight"
    assert not torch.equal(trained[fc1], untouched["model.encoder.layers.1.fc1.weight"])  # the encoder's experts learn


def test_an_experts_run_trains_only_experts_and_gates_and_exports_a_model_per_language(experts_run):
    from faster_whisper import WhisperModel
    from safetensors.torch import load_file
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from engine.distill.evaluate import format_table
    from engine.distill.experts import CHILD, load_experts
    from engine.distill.student import build_student, with_window

    ws, config, run, result = experts_run
    assert result.stage == "done" and result.steps == 4
    log = (run / LOG).read_text()
    assert "language experts for en, de on the decoder layers only" in log and "merged with the expert in" in log
    assert all("budget" in s and s["budget"] >= 0 for s in _steps(run))
    teacher = WhisperForConditionalGeneration.from_pretrained(config.teacher)
    untouched, _ = build_student("experts", teacher, Path(config.teacher))
    with_window(untouched, WhisperProcessor.from_pretrained(config.teacher), config.window)
    base = load_file(str(run / STUDENT / "model.safetensors"))
    assert set(base) <= set(untouched.state_dict())
    assert all(torch.equal(base[k], v) for k, v in untouched.state_dict().items() if k in base)  # the base never moved
    student = load_experts(run / STUDENT)
    assert not any(hasattr(layer, CHILD) for layer in student.model.encoder.layers)
    trained = torch.load(run / CHECKPOINT, weights_only=False)["model"]  # the last step's (student/ is the best check's)
    assert trained and all(f".{CHILD}." in k for k in trained)
    for lang in ("en", "de"):  # every expert learnt away from its copy of the shared block
        fc1 = f"model.decoder.layers.0.{CHILD}.experts.{lang}.fc1.weight"
        assert not torch.equal(trained[fc1], student.model.decoder.layers[0].fc1.weight)
    for folder in ("student-ct2-en", "student-ct2-de", STUDENT_CT2):
        model = WhisperModel(str(run / folder), device="cpu", compute_type="int8")
        segments, _ = model.transcribe(ws.table().iloc[0]["audio_filepath"], language="de", beam_size=1,
                                       condition_on_previous_text=False, without_timestamps=True)
        list(segments)
    report = json.loads((run / EVAL).read_text())
    student_report = report["models"]["student"]
    assert set(student_report["language_models"]) == {"en", "de"}
    assert set(student_report["wer_by_language"]) <= {"en", "de"} and report["clips"] == 2
    assert all(f"| WER, {lang} |" in format_table(report) for lang in student_report["wer_by_language"])


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    """A window student of a tiny teacher trained for three CPU steps with rank-2 LoRA adapters."""
    from engine.distill.train import distill
    from testing.dummies import dummy_workspace

    root = tmp_path_factory.mktemp("lora")
    ws = dummy_workspace(root / "ws", n=6)
    config = DistillConfig(student="window", lora_rank=2, teacher=str(tiny_teacher(root / "teacher")), max_steps=3,
                           batch_size=4, lr=1e-2, heldout_fraction=0.3, eval_every=3, patience=0, freeze_encoder=True)
    return config, root / "run", distill(ws, config, root / "run")


def test_a_lora_run_trains_only_adapters_and_saves_them_merged(lora_run):
    from safetensors.torch import load_file
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from engine.distill.student import build_student, with_window

    config, run, result = lora_run
    assert result.stage == "done" and "LoRA adapters of rank 2" in (run / LOG).read_text()
    trained = torch.load(run / CHECKPOINT, weights_only=False)["model"]
    assert trained and all("lora_" in k and ".decoder." in k for k in trained)
    teacher = WhisperForConditionalGeneration.from_pretrained(config.teacher)
    untouched, _ = build_student("window", teacher, Path(config.teacher))
    with_window(untouched, WhisperProcessor.from_pretrained(config.teacher), config.window)
    saved = load_file(str(run / STUDENT / "model.safetensors"))
    assert not any("lora_" in k or "base_layer" in k for k in saved)  # merged: a plain Whisper
    before = untouched.state_dict()
    moved = {k for k in saved if not torch.equal(saved[k], before[k])}
    assert moved and all(".decoder.layers." in k and k.endswith(("proj.weight", "fc1.weight", "fc2.weight"))
                         for k in moved)  # only the adapted layers changed, by their merged adapters
    WhisperForConditionalGeneration.from_pretrained(run / STUDENT)
    assert (run / STUDENT_CT2 / "model.bin").is_file()


def test_lora_is_refused_for_experts_and_needs_a_positive_rank():
    with pytest.raises(ValueError, match="lora_rank"):
        DistillConfig(student="experts", languages="de", lora_rank=4)
    with pytest.raises(ValueError, match="lora_rank"):
        DistillConfig(lora_rank=0)
