"""The student, saved for transformers and CTranslate2. Four kinds:

- pruned (Distil-Whisper's `create_student_model.py`): the teacher's embeddings, convolutions and norms,
  and layers copied from evenly spaced teacher layers (`layer_map`: 2 of 6 decoder layers → the first
  and the last). Every copied tensor is shape-checked.
- smaller (DistilWhisper's route): a smaller pretrained Whisper (default the bundled tiny.en), optionally
  cut the same way. Its vocabulary may differ from the teacher's (tiny.en's English-only BPE shares
  few token ids with the multilingual one): the KD targets are mapped (engine.distill.data).
- window: the teacher's layers (all unless told) with a shorter encoder window. Any student can have one
  (`with_window`): on the CPU the encoder's cost is the 30 s window, not the clip.
- experts: a window student with DistilWhisper's language experts added (engine.distill.experts, by the
  training loop); its layers are built as window's.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import torch
from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperProcessor

from engine.distill.config import TEACHER_LAYER_KINDS
from engine.io.atomic import atomic_path
from engine.teacher.models import PREPROCESSOR  # faster-whisper reads the mel count and the window here

PRUNED_DECODER_LAYERS = 2  # a pruned student's default: the teacher's first and last decoder layers
POSITIONS_PER_SECOND = 50  # encoder positions (frames after the stride-2 convolution) per second of audio
FULL_POSITIONS = 1500  # Whisper's 30 s
CT2_FILES = ("tokenizer.json", PREPROCESSOR)  # and the tokenizer here; without them it goes to the hub


def layer_map(teacher_layers: int, student_layers: int) -> list[int]:
    """Teacher layer copied into each student layer: evenly spaced, first and last always kept."""
    if not 1 <= student_layers <= teacher_layers:
        raise ValueError(f"a student needs 1 to {teacher_layers} layers, not {student_layers}")
    if student_layers == 1:
        return [teacher_layers - 1]
    return [int(i) for i in np.linspace(0, teacher_layers - 1, student_layers).round()]


def student_from_teacher(teacher: WhisperForConditionalGeneration, decoder_layers: int = 2,
                         encoder_layers: int | None = None) -> WhisperForConditionalGeneration:
    """A new student with `decoder_layers` (and `encoder_layers`, default all) copied from `teacher`."""
    config = copy.deepcopy(teacher.config)
    encoder_layers = encoder_layers or config.encoder_layers
    maps = {"encoder": layer_map(config.encoder_layers, encoder_layers),
            "decoder": layer_map(config.decoder_layers, decoder_layers)}
    config.encoder_layers, config.decoder_layers = encoder_layers, decoder_layers
    config.dropout = config.attention_dropout = config.activation_dropout = 0.0
    student = WhisperForConditionalGeneration(config)
    source = teacher.state_dict()
    target = student.state_dict()
    with torch.no_grad():
        for name, tensor in target.items():
            origin = _teacher_name(name, maps)
            assert origin in source, f"{name}: no teacher weight {origin}"
            assert source[origin].shape == tensor.shape, f"{name}: student {tuple(tensor.shape)} vs teacher {tuple(source[origin].shape)}"
            tensor.copy_(source[origin])
    student.generation_config = _generation_config(teacher, maps["decoder"])
    if config.tie_word_embeddings:
        assert student.proj_out.weight is student.model.decoder.embed_tokens.weight, "embeddings are not tied"
    return student


def _teacher_name(name: str, maps: dict[str, list[int]]) -> str:
    """The teacher weight a student weight is copied from: `model.decoder.layers.1.fc1` ← layer maps[decoder][1]."""
    parts = name.split(".")
    if len(parts) > 3 and parts[0] == "model" and parts[2] == "layers":
        parts[3] = str(maps[parts[1]][int(parts[3])])
    return ".".join(parts)


def _generation_config(teacher: WhisperForConditionalGeneration, decoder_map: list[int]):
    """The teacher's generation config with its alignment heads moved to the student's layers
    (heads of layers the student dropped are dropped; none left → all heads of the latter half)."""
    generation = copy.deepcopy(teacher.generation_config)
    position = {t: s for s, t in enumerate(decoder_map)}
    heads = [[position[layer], head] for layer, head in (generation.alignment_heads or []) if layer in position]
    if not heads:
        n, h = len(decoder_map), teacher.config.decoder_attention_heads
        heads = [[layer, head] for layer in range(n // 2, n) for head in range(h)]
    generation.alignment_heads = heads
    return generation


def student_source_dir(model: str | None) -> Path:
    """The transformers folder a `smaller` student starts from: the bundled Whisper tiny.en (default,
    converted once), a transformers id or folder, or a CTranslate2 folder."""
    from engine.teacher.convert import hf_teacher_dir, resolve_hf_dir
    from engine.teacher.models import TINY_EN, tiny_en_dir

    if model in (None, TINY_EN):
        return hf_teacher_dir(tiny_en_dir(), name=TINY_EN)
    return resolve_hf_dir(model)


def build_student(kind: str, teacher: WhisperForConditionalGeneration, teacher_dir: Path, model: str | None = None,
                  decoder_layers: int | None = None, encoder_layers: int | None = None,
                  ) -> tuple[WhisperForConditionalGeneration, Path]:
    """(student, folder of its processor). `pruned`: the teacher's layers, PRUNED_DECODER_LAYERS decoder
    layers unless told; `window` and `experts`: the teacher's layers, all unless told; `smaller`: the
    pretrained model `model`, all its layers unless told. The window is set afterwards (`with_window`), the
    experts too (`engine.distill.experts.add_experts`)."""
    if kind in TEACHER_LAYER_KINDS:
        default = PRUNED_DECODER_LAYERS if kind == "pruned" else teacher.config.decoder_layers
        return student_from_teacher(teacher, decoder_layers or default, encoder_layers), teacher_dir
    source = student_source_dir(model)
    pretrained = WhisperForConditionalGeneration.from_pretrained(source)
    return student_from_teacher(pretrained, decoder_layers or pretrained.config.decoder_layers, encoder_layers), source


def with_window(model: WhisperForConditionalGeneration, processor: WhisperProcessor, seconds: int) -> WhisperProcessor:
    """Cut `model`'s encoder to a `seconds` window in place (its first positions: Whisper's are fixed
    sinusoids) and return `processor` with a feature extractor that pads to it. Saved, both say so:
    config.json's max_source_positions, preprocessor_config.json's chunk_length, n_samples, nb_max_frames."""
    positions = seconds * POSITIONS_PER_SECOND
    encoder = model.model.encoder
    if positions > encoder.embed_positions.num_embeddings:
        raise ValueError(f"a {seconds} s window is longer than the model's {encoder.embed_positions.num_embeddings // POSITIONS_PER_SECOND} s")
    table = encoder.embed_positions.weight.data[:positions].clone()
    encoder.embed_positions = torch.nn.Embedding(positions, table.shape[1])
    encoder.embed_positions.weight.data.copy_(table)
    encoder.embed_positions.requires_grad_(False)
    encoder.max_source_positions = model.config.max_source_positions = positions
    extractor = WhisperFeatureExtractor(**{**processor.feature_extractor.to_dict(), "chunk_length": seconds})
    return WhisperProcessor(feature_extractor=extractor, tokenizer=processor.tokenizer)


def parameter_count(model: torch.nn.Module) -> int:
    """Distinct parameters (tied weights counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def save_student(model: WhisperForConditionalGeneration, processor: WhisperProcessor, out_dir: str | Path) -> Path:
    """Write `model` with its processor atomically, loadable by `transformers.pipeline(..., model=out_dir)`."""
    with atomic_path(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        processor.save_pretrained(tmp)
        processor.feature_extractor.save_pretrained(tmp)  # preprocessor_config.json, for other readers
    return Path(out_dir)


def export_ct2(hf_dir: str | Path, out_dir: str | Path, quantization: str = "float16") -> Path:
    """Convert a transformers Whisper folder to CTranslate2 (faster-whisper's format), atomically. A window
    student keeps its window in preprocessor_config.json but gets Whisper's 1500 encoder positions back:
    faster-whisper pads every segment to 30 s before the encoder, and CTranslate2 takes any shorter input."""
    import tempfile

    from ctranslate2.converters import TransformersConverter

    hf_dir = Path(hf_dir)
    if not (hf_dir / PREPROCESSOR).is_file():
        WhisperFeatureExtractor.from_pretrained(hf_dir).save_pretrained(hf_dir)
    with atomic_path(out_dir) as tmp, tempfile.TemporaryDirectory() as full:
        source = _full_positions(hf_dir, Path(full))
        TransformersConverter(str(source), copy_files=list(CT2_FILES)).convert(str(tmp), quantization=quantization)
        assert all((tmp / name).is_file() for name in CT2_FILES), f"{tmp}: missing {CT2_FILES}"
    return Path(out_dir)


def _full_positions(hf_dir: Path, scratch: Path) -> Path:
    """`hf_dir`, or for a window student a copy in `scratch` whose position table is continued to Whisper's
    1500 rows with the same sinusoids (its own rows are checked to be them)."""
    import shutil

    from transformers.models.whisper.modeling_whisper import sinusoids

    config = json.loads((hf_dir / "config.json").read_text())
    if config["max_source_positions"] >= FULL_POSITIONS:
        return hf_dir
    model = WhisperForConditionalGeneration.from_pretrained(hf_dir)
    own = model.model.encoder.embed_positions.weight.data
    table = sinusoids(FULL_POSITIONS, own.shape[1])
    assert torch.allclose(table[:len(own)], own, atol=1e-3), "the encoder's positions are not Whisper's sinusoids"
    table[:len(own)] = own
    model.model.encoder.embed_positions = torch.nn.Embedding.from_pretrained(table, freeze=True)
    model.config.max_source_positions = model.model.encoder.max_source_positions = FULL_POSITIONS
    model.save_pretrained(scratch, safe_serialization=True)
    for path in hf_dir.iterdir():  # tokenizer and processor files: what the weights' save did not write
        if path.is_file() and not (scratch / path.name).exists():
            shutil.copy(path, scratch / path.name)
    return scratch


def describe(model: WhisperForConditionalGeneration) -> dict:
    """Layers and parameters, for eval.json and the UI."""
    config = model.config
    return {"encoder_layers": config.encoder_layers, "decoder_layers": config.decoder_layers,
            "parameters": parameter_count(model), "decoder_parameters": parameter_count(model.model.decoder)}

