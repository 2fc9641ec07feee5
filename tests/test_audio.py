import numpy as np
import pytest
import soundfile as sf

from engine.io.audio import SAMPLE_RATE, AudioError, load_audio, usability_problem
from tests.conftest import tone


def test_stereo_44k_becomes_mono_16k(tmp_path):
    left, right = tone(2.0, 440, rate=44100), tone(2.0, 440, rate=44100)
    sf.write(tmp_path / "s.wav", np.stack([left, right], axis=1), 44100)
    audio = load_audio(tmp_path / "s.wav")
    assert audio.channels == 2 and audio.source_rate == 44100
    assert audio.duration == pytest.approx(2.0, abs=1e-3)
    assert np.sqrt(np.mean(audio.samples**2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.02)


@pytest.mark.parametrize("name,subtype", [("f.flac", "PCM_16"), ("p.wav", "PCM_24"), ("x.wav", "FLOAT"), ("o.ogg", "VORBIS")])
def test_formats_and_rates_decode(tmp_path, name, subtype):
    sf.write(tmp_path / name, tone(1.0, rate=8000), 8000, subtype=subtype)
    audio = load_audio(tmp_path / name)
    assert len(audio.samples) == pytest.approx(SAMPLE_RATE, abs=200)


@pytest.mark.parametrize("content,reason", [(None, "not found"), (b"", "empty"), (b"RIFF\x10\x00\x00\x00WAVEfmt garbage", "cannot decode")])
def test_unreadable_files_raise_readable_reasons(tmp_path, content, reason):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioError, match=reason):
        load_audio(path)


def test_nan_samples_are_rejected(tmp_path):
    samples = tone(1.0)
    samples[100] = np.nan
    sf.write(tmp_path / "nan.wav", samples, SAMPLE_RATE, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(tmp_path / "nan.wav")


def test_usability_problems(tmp_path):
    for seconds, samples, expected in [
        (31, tone(31), "longer than 30 s"),
        (0.05, tone(0.05), "shorter than"),
        (2, np.zeros(2 * SAMPLE_RATE, np.float32), "digital silence"),
        (2, tone(2), None),
    ]:
        sf.write(tmp_path / "u.wav", samples, SAMPLE_RATE)
        problem = usability_problem(load_audio(tmp_path / "u.wav"))
        assert (problem is None) if expected is None else expected in problem
