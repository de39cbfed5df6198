#!/usr/bin/env python3
"""Ground-truth detections: turn a ShapesWorld/MOTChallenge gt.txt into a MOT det.txt holding
only the visible boxes (visibility > 0, consider flag != 0), score 1, with class names from the
labels.json beside it (or class indices when there is none). Standard library only.

  python3 tools/eval/gt_to_det.py samples/standard > /tmp/det.txt
  kvvision track samples/standard/video.mp4 --detections /tmp/det.txt --model none > /tmp/track.jsonl
  kvvision eval --gt samples/standard --pred /tmp/track.jsonl
"""
import json
import os
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gt_to_det.py DIR_OR_GT_TXT > det.txt")
    path = sys.argv[1]
    gt = os.path.join(path, "gt.txt") if os.path.isdir(path) else path
    labels = os.path.join(os.path.dirname(gt), "labels.json")
    classes = json.load(open(labels))["classes"] if os.path.exists(labels) else None
    for line in open(gt):
        f = line.strip().split(",")
        if len(f) < 6:
            continue
        consider = float(f[6]) if len(f) > 6 else 1
        visibility = float(f[8]) if len(f) > 8 else 1
        if consider == 0 or visibility <= 0:
            continue
        cls = f[7] if len(f) > 7 else "-1"
        if classes and cls.isdigit() and 1 <= int(cls) <= len(classes):
            cls = classes[int(cls) - 1]
        sys.stdout.write(f"{f[0]},-1,{f[2]},{f[3]},{f[4]},{f[5]},1,{cls}\n")


if __name__ == "__main__":
    main()
