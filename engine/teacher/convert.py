"""Convert a CTranslate2 Whisper model into a transformers Whisper folder, offline.

`model.bin` has the layout that ctranslate2/specs/model_spec.py `_serialize` writes; the weight
names are the inverse of ctranslate2/converters/transformers.py `WhisperLoader` (WhisperSpec rev 3).
"""
from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np
import torch
from transformers import (
    GenerationConfig, WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperProcessor,
    WhisperTokenizerFast,
)

from engine.io.atomic import atomic_path
from engine.teacher.models import cache_dir, default_teacher_dir, is_multilingual

STAMP = "converted_from.json"
TIMESTAMPS, TIMESTAMP_SECONDS = 1501, 0.02  # Whisper's timestamp tokens: <|0.00|> to <|30.00|>
_STAMP_FORMAT = 1  # bump when the converter's output changes, to redo cached conversions
# DataType enum of include/ctranslate2/types.h, by id; bfloat16 (id 5) is read as raw uint16 bits.
_CT2_DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16, np.uint16)
_BFLOAT16 = 5
_GELU = 3  # ctranslate2.specs.common_spec.Activation.GELU
# Scalars WhisperSpec writes that HF has no use for (CT2's default alignment heads, ALiBi flags).
_UNUSED_SCALARS = ("decoder/alignment_heads", "decoder/alignment_layer",
                   "decoder/alibi_use_positive_positions", "decoder/scale_alibi")


def read_ct2_variables(model_bin: str | Path) -> tuple[str, int, dict[str, np.ndarray]]:
    """Return (spec name, spec revision, variables) of a CTranslate2 `model.bin`.

    Float weights come back as float32; int8/int16 weights are dequantized with their
    `<name>_scale`; aliases (e.g. a tied output projection) map to the same array.
    """
    data = memoryview(Path(model_bin).read_bytes())
    offset = 0

    def unpack(fmt: str) -> int:
        nonlocal offset
        (value,) = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal offset
        length = unpack("H")  # includes the trailing NUL
        text = bytes(data[offset:offset + length - 1]).decode("utf-8")
        offset += length
        return text

    version = unpack("I")
    if not 4 <= version <= 6:
        raise ValueError(f"{model_bin}: CTranslate2 binary version {version} is not supported (4-6)")
    spec, revision = string(), unpack("I")
    raw: dict[str, np.ndarray] = {}
    for _ in range(unpack("I")):
        name = string()
        shape = tuple(unpack("I") for _ in range(unpack("B")))
        type_id, num_bytes = unpack("B"), unpack("I")
        array = np.frombuffer(data, _CT2_DTYPES[type_id], int(np.prod(shape)), offset).reshape(shape)
        assert array.nbytes == num_bytes, f"{name}: {num_bytes} bytes for shape {shape}"
        raw[name] = (array.astype(np.uint32) << 16).view(np.float32) if type_id == _BFLOAT16 else array
        offset += num_bytes
    aliases = {string(): string() for _ in range(unpack("I"))}
    assert offset == len(data), f"{model_bin}: {len(data) - offset} trailing bytes"

    if any(name.endswith("_zero") for name in raw):
        raise NotImplementedError(f"{model_bin}: AWQ-quantized weights (`*_zero`) are not supported")
    variables = {}
    for name, array in raw.items():
        if name.endswith("_scale") and name[: -len("_scale")] in raw:
            continue
        if f"{name}_scale" in raw:  # value = rint(weight * scale), scale per output row (int8) or scalar
            scale = raw[f"{name}_scale"].astype(np.float32)
            array = array.astype(np.float32) / scale.reshape(scale.shape + (1,) * (array.ndim - scale.ndim))
        elif np.issubdtype(array.dtype, np.floating):
            array = array.astype(np.float32)
        variables[name] = array
    for alias, target in aliases.items():
        variables[alias] = variables[target]
    return spec, revision, variables


def _layer_count(variables: dict[str, np.ndarray], stack: str) -> int:
    indices = {int(m.group(1)) for name in variables if (m := re.match(rf"{stack}/layer_(\d+)/", name))}
    assert indices == set(range(len(indices))), f"{stack} layers are not numbered 0..n-1: {sorted(indices)}"
    return len(indices)


def _tokenizer(ct2_dir: Path, vocab_size: int) -> WhisperTokenizerFast:
    """The fast tokenizer of the folder's tokenizer.json, with Whisper's special tokens in id order, and its
    timestamp tokens added when the file lacks them (tiny.en's ends at <|notimestamps|>)."""
    tokenizer_file = ct2_dir / "tokenizer.json"
    added = json.loads(tokenizer_file.read_text(encoding="utf-8"))["added_tokens"]
    # `all_special_ids[-1] + 1` is where WhisperTokenizer expects the timestamp tokens to start.
    specials = [t["content"] for t in sorted(added, key=lambda t: t["id"]) if t["special"]]
    tokenizer = WhisperTokenizerFast(tokenizer_file=str(tokenizer_file), pad_token="<|endoftext|>",
                                     additional_special_tokens=specials)
    missing = vocab_size - len(tokenizer)
    if missing == TIMESTAMPS:
        tokenizer.add_tokens([f"<|{i * TIMESTAMP_SECONDS:.2f}|>" for i in range(TIMESTAMPS)])
    return tokenizer


def _whisper_config(variables: dict[str, np.ndarray], ct2_config: dict,
                    tokenizer: WhisperTokenizerFast) -> WhisperConfig:
    """The WhisperConfig implied by the weight shapes, the CT2 config and the tokenizer."""
    vocab_size, d_model = variables["decoder/embeddings/weight"].shape
    heads = {stack: int(variables[f"{stack}/num_heads"]) for stack in ("encoder", "decoder")}
    assert all(d_model % n == 0 for n in heads.values()), f"d_model {d_model} vs heads {heads}"
    assert len(tokenizer) == vocab_size, f"tokenizer has {len(tokenizer)} tokens, weights {vocab_size}"
    eot = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    return WhisperConfig(
        vocab_size=int(vocab_size),
        num_mel_bins=variables["encoder/conv1/weight"].shape[1],
        d_model=int(d_model),
        encoder_layers=_layer_count(variables, "encoder"),
        decoder_layers=_layer_count(variables, "decoder"),
        encoder_attention_heads=heads["encoder"],
        decoder_attention_heads=heads["decoder"],
        encoder_ffn_dim=variables["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        decoder_ffn_dim=variables["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=variables["encoder/position_encodings/encodings"].shape[0],
        max_target_positions=variables["decoder/position_encodings/encodings"].shape[0],
        activation_function="gelu",
        scale_embedding=False,
        decoder_start_token_id=tokenizer.convert_tokens_to_ids("<|startoftranscript|>"),
        pad_token_id=eot, bos_token_id=eot, eos_token_id=eot,
        suppress_tokens=list(ct2_config["suppress_ids"]),
        begin_suppress_tokens=list(ct2_config["suppress_ids_begin"]),
        tie_word_embeddings=bool(np.array_equal(variables["decoder/projection/weight"],
                                                variables["decoder/embeddings/weight"])),
    )


def _generation_config(config: WhisperConfig, ct2_config: dict,
                       tokenizer: WhisperTokenizerFast) -> GenerationConfig:
    """What `WhisperForConditionalGeneration.generate` needs, as in OpenAI's HF releases."""
    token_id = tokenizer.convert_tokens_to_ids
    multilingual = is_multilingual(config.vocab_size)
    languages = {}
    if multilingual:
        languages = {
            "lang_to_id": {tokenizer.convert_ids_to_tokens(i): i for i in ct2_config["lang_ids"]},
            "task_to_id": {"transcribe": token_id("<|transcribe|>"), "translate": token_id("<|translate|>")},
            # Default prompt <|sot|><|detected lang|><|transcribe|>, what OpenAI's `forced_decoder_ids`
            # [[1, None], [2, transcribe]] meant; without it generate() drops the task token.
            "task": "transcribe",
        }
    return GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id,
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        max_length=config.max_target_positions,
        suppress_tokens=list(config.suppress_tokens),
        begin_suppress_tokens=list(config.begin_suppress_tokens),
        alignment_heads=[list(head) for head in ct2_config["alignment_heads"]],
        no_timestamps_token_id=token_id("<|notimestamps|>"),
        prev_sot_token_id=token_id("<|startofprev|>"),
        max_initial_timestamp_index=50,
        return_timestamps=False,
        is_multilingual=multilingual,
        **languages,
    )


def _hf_weights(variables: dict[str, np.ndarray], config: WhisperConfig) -> dict[str, np.ndarray]:
    """Map CT2 variables to WhisperForConditionalGeneration state-dict names; all must be used."""
    ct2 = dict(variables)
    d = config.d_model
    hf: dict[str, np.ndarray] = {}

    def scalar(name: str) -> int:
        return int(ct2.pop(name))

    assert scalar("decoder/activation") == _GELU, "decoder activation must be exact GELU"
    assert scalar("decoder/pre_norm") == 1 and scalar("decoder/scale_embeddings") == 0
    assert scalar("decoder/alibi") == 0 and scalar("decoder/start_from_zero_embedding") == 0
    assert (scalar("encoder/num_heads"), scalar("decoder/num_heads")) == (
        config.encoder_attention_heads, config.decoder_attention_heads)
    for name in _UNUSED_SCALARS:
        ct2.pop(name, None)

    def copy(hf_name: str, ct2_name: str) -> None:
        hf[hf_name] = ct2.pop(ct2_name)

    def norm(hf_prefix: str, ct2_prefix: str) -> None:
        copy(f"{hf_prefix}.weight", f"{ct2_prefix}/gamma")
        copy(f"{hf_prefix}.bias", f"{ct2_prefix}/beta")

    def linear(hf_prefix: str, ct2_prefix: str) -> None:
        copy(f"{hf_prefix}.weight", f"{ct2_prefix}/weight")
        copy(f"{hf_prefix}.bias", f"{ct2_prefix}/bias")

    def fused(hf_prefix: str, ct2_prefix: str, parts: str) -> None:
        """Split CT2's concatenated q/k/v projections; `utils.fuse_linear` zero-filled k's bias."""
        weight, bias = ct2.pop(f"{ct2_prefix}/weight"), ct2.pop(f"{ct2_prefix}/bias")
        assert weight.shape == (len(parts) * d, d) and bias.shape == (len(parts) * d,), ct2_prefix
        for part, w, b in zip(parts, np.split(weight, len(parts)), np.split(bias, len(parts))):
            hf[f"{hf_prefix}.{part}_proj.weight"] = w
            if part == "k":
                assert not b.any(), f"{ct2_prefix}: nonzero key bias, but HF's k_proj has none"
            else:
                hf[f"{hf_prefix}.{part}_proj.bias"] = b

    def block(hf_layer: str, ct2_layer: str) -> None:
        fused(f"{hf_layer}.self_attn", f"{ct2_layer}/self_attention/linear_0", "qkv")
        linear(f"{hf_layer}.self_attn.out_proj", f"{ct2_layer}/self_attention/linear_1")
        norm(f"{hf_layer}.self_attn_layer_norm", f"{ct2_layer}/self_attention/layer_norm")
        linear(f"{hf_layer}.fc1", f"{ct2_layer}/ffn/linear_0")
        linear(f"{hf_layer}.fc2", f"{ct2_layer}/ffn/linear_1")
        norm(f"{hf_layer}.final_layer_norm", f"{ct2_layer}/ffn/layer_norm")

    for conv in ("conv1", "conv2"):
        linear(f"model.encoder.{conv}", f"encoder/{conv}")
    copy("model.encoder.embed_positions.weight", "encoder/position_encodings/encodings")
    for i in range(config.encoder_layers):
        block(f"model.encoder.layers.{i}", f"encoder/layer_{i}")
    norm("model.encoder.layer_norm", "encoder/layer_norm")

    copy("model.decoder.embed_tokens.weight", "decoder/embeddings/weight")
    copy("model.decoder.embed_positions.weight", "decoder/position_encodings/encodings")
    for i in range(config.decoder_layers):
        layer, ct2_layer = f"model.decoder.layers.{i}", f"decoder/layer_{i}"
        block(layer, ct2_layer)
        linear(f"{layer}.encoder_attn.q_proj", f"{ct2_layer}/attention/linear_0")
        fused(f"{layer}.encoder_attn", f"{ct2_layer}/attention/linear_1", "kv")
        linear(f"{layer}.encoder_attn.out_proj", f"{ct2_layer}/attention/linear_2")
        norm(f"{layer}.encoder_attn_layer_norm", f"{ct2_layer}/attention/layer_norm")
    norm("model.decoder.layer_norm", "decoder/layer_norm")
    projection = ct2.pop("decoder/projection/weight")
    if not config.tie_word_embeddings:
        hf["proj_out.weight"] = projection

    assert not ct2, f"CTranslate2 variables with no HF counterpart: {sorted(ct2)}"
    return hf


def _load_weights(model: WhisperForConditionalGeneration, weights: dict[str, np.ndarray]) -> None:
    """Copy `weights` into `model`, asserting the names and shapes match exactly."""
    state = model.state_dict()
    expected = set(state) - ({"proj_out.weight"} if model.config.tie_word_embeddings else set())
    assert set(weights) == expected, (f"missing {sorted(expected - set(weights))}, "
                                      f"unexpected {sorted(set(weights) - expected)}")
    with torch.no_grad():
        for name, value in weights.items():
            assert state[name].shape == value.shape, f"{name}: HF {tuple(state[name].shape)} vs CT2 {value.shape}"
            state[name].copy_(torch.from_numpy(np.ascontiguousarray(value)))
    if model.config.tie_word_embeddings:
        assert model.proj_out.weight is model.model.decoder.embed_tokens.weight, "proj_out is not tied"


def convert_ct2_to_hf(ct2_dir: str | Path, out_dir: str | Path) -> Path:
    """Write a float32 transformers Whisper folder (model, processor, generation config) for `ct2_dir`.

    The folder is written atomically, with a stamp (`STAMP`) naming the source `model.bin`
    (path, size, mtime) and the size of every file written.
    """
    ct2_dir, out_dir = Path(ct2_dir), Path(out_dir)
    spec, revision, variables = read_ct2_variables(ct2_dir / "model.bin")
    if (spec, revision) != ("WhisperSpec", 3):
        raise ValueError(f"{ct2_dir}: expected a WhisperSpec revision 3 model, got {spec} revision {revision}")
    ct2_config = json.loads((ct2_dir / "config.json").read_text())
    tokenizer = _tokenizer(ct2_dir, variables["decoder/embeddings/weight"].shape[0])
    config = _whisper_config(variables, ct2_config, tokenizer)
    model = WhisperForConditionalGeneration(config).eval()
    _load_weights(model, _hf_weights(variables, config))
    model.generation_config = _generation_config(config, ct2_config, tokenizer)
    processor = WhisperProcessor(WhisperFeatureExtractor(feature_size=config.num_mel_bins), tokenizer)
    with atomic_path(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        processor.save_pretrained(tmp)
        stamp = {"format": _STAMP_FORMAT, "model_bin": _source_stamp(ct2_dir),
                 "files": {f.name: f.stat().st_size for f in sorted(tmp.iterdir())}}
        (tmp / STAMP).write_text(json.dumps(stamp, indent=1))
    return out_dir


def _source_stamp(ct2_dir: Path) -> dict:
    """What identifies the source weights: `model.bin`'s path, size and mtime."""
    stat = (ct2_dir / "model.bin").stat()
    return {"path": str((ct2_dir / "model.bin").resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _is_converted(hf_dir: Path, ct2_dir: Path) -> bool:
    """Whether `hf_dir` holds a conversion of `ct2_dir` by this converter with all files intact."""
    stamp = hf_dir / STAMP
    if not stamp.is_file():
        return False
    meta = json.loads(stamp.read_text())
    files = meta.get("files", {})
    return (meta.get("format") == _STAMP_FORMAT
            and meta.get("model_bin") == _source_stamp(ct2_dir)
            and "model.safetensors" in files
            and all((hf_dir / name).is_file() and (hf_dir / name).stat().st_size == size
                    for name, size in files.items()))


def hf_teacher_dir(ct2_dir: str | Path | None = None, name: str | None = None) -> Path:
    """Return the transformers folder of a CTranslate2 Whisper (default: the bundled teacher).

    Converted once into `cache_dir()/hf/<name>` (default: the folder's name) and reused while its stamp
    matches the source.
    """
    ct2_dir = Path(ct2_dir) if ct2_dir is not None else default_teacher_dir()
    hf_dir = cache_dir() / "hf" / (name or ct2_dir.name)
    if not _is_converted(hf_dir, ct2_dir):
        convert_ct2_to_hf(ct2_dir, hf_dir)
    return hf_dir


def resolve_hf_dir(teacher: str | None) -> Path:
    """A local transformers Whisper folder for `teacher`: the converted bundled model, a
    CTranslate2 folder converted once, an HF folder as is, or a hub id's snapshot."""
    if teacher is None:
        return hf_teacher_dir()
    path = Path(teacher).expanduser()
    if (path / "model.bin").is_file():
        return hf_teacher_dir(path)
    if (path / "config.json").is_file():
        return path
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(teacher))
