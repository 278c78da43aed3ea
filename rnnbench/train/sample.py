"""Sampling from a trained run: Bernoulli draws of each next frame, written as MIDI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rnnbench.config import Config
from rnnbench.errors import TrainingError
from rnnbench.models import SequenceModel, build_model
from rnnbench.train import record

LOWEST_NOTE = 21  # column j of a piano-roll is MIDI note j + 21 (A0)


def load_trained(run_dir: Path) -> tuple[Config, SequenceModel]:
    """The run's config and its best weights (the ones its metrics were measured with)."""
    config = record.read_run_config(run_dir)
    checkpoint = record.load_checkpoint(run_dir)
    model = build_model(
        config.model.cell, config.model.variant, config.model.hidden_size, init=config.model.init
    )
    try:
        model.load_state_dict(checkpoint["best_model"])
    except (KeyError, RuntimeError) as exc:
        raise TrainingError(f"{run_dir}: checkpoint does not match its config ({exc})") from None
    return config, model.eval()


@torch.inference_mode()
def sample_roll(model: SequenceModel, steps: int, seed: int) -> np.ndarray:
    """`steps` frames drawn one at a time, each from the model's Bernoulli output given all the
    frames before it, starting from one silent frame. Returns (steps, 88) uint8."""
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    frames = torch.zeros(1, 1, model.output.out_features)  # (1, 1, 88): the silent first frame
    for _ in range(steps):
        logits = model(frames)[:, -1]  # (1, 88): prediction for the next frame
        probabilities = torch.sigmoid(logits)
        frame = torch.bernoulli(probabilities, generator=generator)  # (1, 88)
        frames = torch.cat([frames, frame.unsqueeze(1)], dim=1)  # (1, t + 1, 88)
    return frames[0, 1:].to(torch.uint8).numpy()  # (steps, 88)


def roll_to_midi(roll: np.ndarray, path: Path, frame_seconds: float, program: int = 0) -> None:
    """Write a (T, 88) piano-roll as a one-instrument MIDI file; held notes are merged."""
    import pretty_midi

    from rnnbench.io import atomic_open

    midi = pretty_midi.PrettyMIDI()
    instrument = pretty_midi.Instrument(program=program)
    padded = np.vstack(
        [np.zeros((1, roll.shape[1])), roll, np.zeros((1, roll.shape[1]))]
    )  # (T+2, 88)
    changes = np.diff(padded.astype(np.int8), axis=0)  # (T+1, 88): +1 onset, -1 offset
    for column in range(roll.shape[1]):
        onsets = np.flatnonzero(changes[:, column] == 1)
        offsets = np.flatnonzero(changes[:, column] == -1)
        for onset, offset in zip(onsets, offsets, strict=True):
            instrument.notes.append(
                pretty_midi.Note(
                    velocity=80,
                    pitch=column + LOWEST_NOTE,
                    start=onset * frame_seconds,
                    end=offset * frame_seconds,
                )
            )
    midi.instruments.append(instrument)
    with atomic_open(path, "wb") as handle:
        midi.write(handle)
