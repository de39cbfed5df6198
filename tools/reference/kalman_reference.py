#!/usr/bin/env python3
"""Reference numbers for kvvision's constant-velocity Kalman filter (Tracking/KalmanFilter.swift),
computed independently with plain numpy matrices (full F, Q, H, R, np.linalg.inv).

State [cx, cy, log w, log h, vcx, vcy, vlog w, vlog h]; s = sqrt(w*h) of the current estimate:
  P0 = diag((2rp s)^2 x2, (2rs)^2 x2, (10qv s)^2 x2, (10qsv)^2 x2)
  predict(dt): x = F x, P = F P F^T + dt * diag((qp s)^2 x2, qs^2 x2, (qv s)^2 x2, qsv^2 x2)
  update(z):   S = H P H^T + diag((rp s)^2 x2, rs^2 x2), K = P H^T S^-1, x += K (z - H x), P -= K H P
Writes Tests/KVVisionTests/Fixtures/tracking/kalman.json.  Usage (numpy only):
  tools/.venv/bin/python tools/reference/kalman_reference.py [--out FILE]
"""
import argparse
import json
import math

import numpy as np

NOISE = dict(position=1 / 20, velocity=1 / 160, size=0.05, size_velocity=0.01,
             measurement_position=1 / 20, measurement_size=0.05)


def meas(box):
    x, y, w, h = box
    return np.array([x + w / 2, y + h / 2, math.log(w), math.log(h)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="Tests/KVVisionTests/Fixtures/tracking/kalman.json")
    out = ap.parse_args().out
    n = NOISE
    H = np.hstack([np.eye(4), np.zeros((4, 4))])
    # A box moving right and down, growing, with one missed measurement and a 2-step gap.
    steps = [("init", [10.0, 20.0, 30.0, 40.0]), ("predict", 1.0), ("update", [13.0, 21.5, 31.0, 40.5]),
             ("predict", 1.0), ("update", [16.5, 23.0, 32.0, 41.0]), ("predict", 1.0), ("predict", 2.0),
             ("update", [26.0, 27.0, 34.0, 42.0]), ("predict", 0.5), ("update", [27.0, 27.4, 34.5, 42.3])]
    x = P = None
    results = []
    for kind, arg in steps:
        if kind == "init":
            z = meas(arg)
            x = np.concatenate([z, np.zeros(4)])
            s = math.exp((z[2] + z[3]) / 2)
            sd = [2 * n["measurement_position"] * s] * 2 + [2 * n["measurement_size"]] * 2 + \
                 [10 * n["velocity"] * s] * 2 + [10 * n["size_velocity"]] * 2
            P = np.diag(np.square(sd))
        elif kind == "predict":
            dt = arg
            s = math.exp((x[2] + x[3]) / 2)
            F = np.eye(8)
            F[:4, 4:] = dt * np.eye(4)
            q = [n["position"] * s] * 2 + [n["size"]] * 2 + [n["velocity"] * s] * 2 + [n["size_velocity"]] * 2
            x = F @ x
            P = F @ P @ F.T + dt * np.diag(np.square(q))
        else:
            z = meas(arg)
            s = math.exp((x[2] + x[3]) / 2)
            R = np.diag(np.square([n["measurement_position"] * s] * 2 + [n["measurement_size"]] * 2))
            S = H @ P @ H.T + R
            K = P @ H.T @ np.linalg.inv(S)
            x = x + K @ (z - H @ x)
            P = P - K @ H @ P
        results.append({"step": kind, "arg": arg, "x": x.tolist(), "p": P.flatten().tolist()})
    with open(out, "w") as f:
        json.dump({"noise": NOISE, "steps": results}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
