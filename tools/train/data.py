"""ShapesWorld clips for training: rendered by `kvvision synth`, decoded by `kvvision frames`.

Frames are decoded exactly as the pipeline decodes them (FrameSource: FFmpeg H.264 decode, swscale
bilinear to RGB24 at 320x240), never by a second renderer. A background `ClipProducer` renders fresh
clips continuously so that training never cycles a small fixed set (the limit is data diversity).
"""

import json
import os
import queue
import random
import shutil
import subprocess
import tempfile
import threading

import numpy as np

ACTIONS = ["idle", "walk", "run", "jump", "spin"]
CLASSES = ["circle", "square", "triangle", "cross"]


class Clip:
    """One decoded clip: frames uint8 (T, H, W, 3); per-frame ground truth; per-id actions.

    gt[t] is a float32 array (n, 7): id, x, y, w, h, class (0-based), visibility, for every object
    in frame t (0-based), visibility-0 rows included. actions[id] is an int array (T,) of action
    indices (ACTIONS).
    """

    def __init__(self, frames, gt, actions, seed, preset, directory=None):
        self.frames, self.gt, self.actions, self.seed, self.preset = frames, gt, actions, seed, preset
        self.directory = directory

    @property
    def length(self):
        return self.frames.shape[0]

    def visible(self, t, min_visibility=1e-6):
        g = self.gt[t]
        return g[(g[:, 6] >= min_visibility) & (g[:, 3] >= 1) & (g[:, 4] >= 1)]


def read_ground_truth(directory, length):
    rows = np.loadtxt(os.path.join(directory, "gt.txt"), delimiter=",", dtype=np.float64, ndmin=2)
    gt = [np.zeros((0, 7), np.float32) for _ in range(length)]
    by_frame = {}
    for r in rows:
        f = int(r[0]) - 1
        if 0 <= f < length:
            by_frame.setdefault(f, []).append([r[1], r[2], r[3], r[4], r[5], r[7] - 1, r[8]])
    for f, v in by_frame.items():
        gt[f] = np.asarray(v, np.float32)
    with open(os.path.join(directory, "labels.json")) as fh:
        labels = json.load(fh)
    assert labels["actions"] == ACTIONS and labels["classes"] == CLASSES, "label vocabularies changed"
    actions = {}
    for obj in labels["objects"]:
        a = np.zeros(length, np.int64)
        for seg in obj["actions"]:
            a[seg["from"] - 1:seg["to"]] = ACTIONS.index(seg["action"])
        actions[int(obj["id"])] = a
    return gt, actions


def render_clip(kvvision, seed, preset, seconds, directory, keep=False, threads=1):
    """Renders seed/preset with `kvvision synth`, decodes it with `kvvision frames`; returns a Clip."""
    os.makedirs(directory, exist_ok=True)
    env = dict(os.environ, KVVISION_THREADS=str(threads))
    subprocess.run([kvvision, "synth", "--seed", str(seed), "--preset", preset, "--duration", str(seconds),
                    "--out", directory], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    npy = os.path.join(directory, "frames.npy")
    subprocess.run([kvvision, "frames", os.path.join(directory, "video.mp4"), "--out", npy, "--size", "320x240",
                    "--threads", str(threads)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    frames = np.load(npy)
    gt, actions = read_ground_truth(directory, frames.shape[0])
    if not keep:
        shutil.rmtree(directory, ignore_errors=True)
        directory = None
    return Clip(frames, gt, actions, seed, preset, directory)


class ClipProducer:
    """Renders fresh training clips in background threads (each runs kvvision child processes).

    Seeds are consecutive from `start_seed` (the training range), presets drawn with `weights` by a
    PRNG seeded by `rng_seed`, so a run's data is reproducible given the seed order. `get()` blocks
    until a clip is ready; at most `ahead` clips wait in the queue (the producer sleeps otherwise).
    """

    def __init__(self, kvvision, start_seed, seconds, presets=("easy", "standard", "hard"), weights=(1, 2, 2),
                 ahead=4, workers=1, rng_seed=0, workdir=None):
        self.kvvision, self.seconds = kvvision, seconds
        self.presets, self.weights = presets, weights
        self.queue = queue.Queue(maxsize=ahead)
        self.next_seed = start_seed
        self.lock = threading.Lock()
        self.rng = random.Random(rng_seed)
        self.workdir = workdir or tempfile.mkdtemp(prefix="kvv-train-")
        self.stop = threading.Event()
        self.rendered = 0
        self.errors = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(workers)]
        for t in self.threads:
            t.start()

    def _take(self):
        with self.lock:
            seed = self.next_seed
            self.next_seed += 1
            preset = self.rng.choices(self.presets, self.weights)[0]
            return seed, preset

    def _run(self):
        while not self.stop.is_set():
            seed, preset = self._take()
            try:
                clip = render_clip(self.kvvision, seed, preset, self.seconds, os.path.join(self.workdir, str(seed)))
            except Exception as e:  # noqa: BLE001 - recorded and surfaced by get()
                self.errors.append(f"seed {seed}: {e}")
                if len(self.errors) > 5:
                    return
                continue
            while not self.stop.is_set():
                try:
                    self.queue.put(clip, timeout=0.5)
                    with self.lock:
                        self.rendered += 1
                    break
                except queue.Full:
                    continue

    def get(self, timeout=600):
        while True:
            if len(self.errors) > 5:
                raise RuntimeError("clip producer failed: " + "; ".join(self.errors[-3:]))
            try:
                return self.queue.get(timeout=min(timeout, 5))
            except queue.Empty:
                timeout -= 5
                if timeout <= 0:
                    raise RuntimeError("clip producer timed out")

    def get_nowait(self):
        try:
            return self.queue.get_nowait()
        except queue.Empty:
            return None

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)
        shutil.rmtree(self.workdir, ignore_errors=True)


class ClipBuffer:
    """A rolling buffer of `size` clips; `refresh()` swaps the oldest for a fresh one when ready."""

    def __init__(self, producer, size, rng):
        self.producer, self.rng = producer, rng
        self.clips = [producer.get() for _ in range(size)]
        self.oldest = 0
        self.swapped = 0

    def refresh(self, block=False):
        clip = self.producer.get() if block else self.producer.get_nowait()
        if clip is not None:
            self.clips[self.oldest] = clip
            self.oldest = (self.oldest + 1) % len(self.clips)
            self.swapped += 1

    def sample_pair(self, max_gap):
        clip = self.clips[self.rng.randrange(len(self.clips))]
        t = self.rng.randrange(clip.length)
        gap = self.rng.randint(1, max_gap)
        t2 = t + gap if t + gap < clip.length else max(0, t - gap)
        return clip, t, t2
