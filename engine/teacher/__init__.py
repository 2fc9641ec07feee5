"""The teacher: Whisper that pseudo-labels every clip in one pass (`load_teacher`), its two backends
(`ct2`: CTranslate2, `hf`: transformers), where its weights come from (`models`) and the CTranslate2 →
transformers converter used for training (`convert`)."""
from __future__ import annotations

from engine.teacher.base import Teacher
from engine.teacher.options import TeacherOptions


def load_teacher(options: TeacherOptions = TeacherOptions()) -> Teacher:
    """The teacher for `options.backend`: CTranslate2 (fast decoding) or PyTorch (any HF Whisper)."""
    if options.backend == "torch":
        from engine.teacher.hf import TorchTeacher

        return TorchTeacher(options)
    from engine.teacher.ct2 import CT2Teacher

    return CT2Teacher(options)
