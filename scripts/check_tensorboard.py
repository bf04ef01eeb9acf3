#!/usr/bin/env python3
"""Check a lorakit TensorBoard log directory with TensorBoard's own reader.

lorakit writes event files itself (Sources/Trainer/Output/TensorBoardWriter.swift); this script
is the independent check that TensorBoard reads them. It is not part of the build, and
tensorboard is not a lorakit dependency. To run it:

    python3 -m venv /tmp/tb && /tmp/tb/bin/pip install tensorboard
    /tmp/tb/bin/python scripts/check_tensorboard.py LOGDIR loss/current loss/average lr/unet

For every event file under LOGDIR (searched recursively) it reads each record with TensorBoard's
record reader, which verifies both masked CRC-32Cs, and checks that the first event carries
file_version "brain.Event:2". It then loads LOGDIR with
tensorboard.backend.event_processing.event_accumulator.EventAccumulator and prints every scalar
tag with its number of steps and its first and last (step, value).

Exit status: 0 when all is well; 1 when a file is damaged, an expected tag is missing, or a
value is NaN or infinite; 2 for a usage error (no event files).
"""

import argparse
import math
import os
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import errors
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New


def event_files(logdir):
    """Paths of event files under logdir, sorted."""
    found = []
    for root, _, names in os.walk(logdir):
        found += [os.path.join(root, name) for name in names if "tfevents" in name]
    return sorted(found)


def check_records(path):
    """Reads every record of one file; returns a list of problems (empty when sound)."""
    reader = PyRecordReader_New(path)
    problems = []
    count = 0
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            break
        except errors.DataLossError as error:
            problems.append(f"{path}: record {count}: {error.message}")
            break
        event = event_pb2.Event.FromString(reader.record())
        if count == 0 and event.file_version != "brain.Event:2":
            problems.append(f"{path}: first event has file_version {event.file_version!r}")
        count += 1
    if count == 0:
        problems.append(f"{path}: no records")
    verdict = "both CRCs of each verified" if not problems else "damaged"
    print(f"{path}: {count} records, {verdict}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logdir", help="directory holding events.out.tfevents.* files")
    parser.add_argument("tags", nargs="*", help="scalar tags that must be present")
    args = parser.parse_args()

    files = event_files(args.logdir)
    if not files:
        print(f"{args.logdir}: no event files", file=sys.stderr)
        return 2
    problems = []
    for path in files:
        problems += check_records(path)

    # One accumulator per directory holding event files, as TensorBoard groups runs.
    runs = sorted({os.path.dirname(path) for path in files})
    seen = set()
    for run in runs:
        accumulator = EventAccumulator(run, size_guidance={"scalars": 0})
        accumulator.Reload()
        for tag in sorted(accumulator.Tags()["scalars"]):
            seen.add(tag)
            scalars = accumulator.Scalars(tag)
            first, last = scalars[0], scalars[-1]
            print(
                f"{os.path.relpath(run, args.logdir) or '.'} {tag}: {len(scalars)} steps, "
                f"first step {first.step} = {first.value:.6g}, last step {last.step} = {last.value:.6g}"
            )
            bad = [s for s in scalars if not math.isfinite(s.value)]
            if bad:
                problems.append(f"{tag}: {len(bad)} values not finite (first at step {bad[0].step})")
    for tag in args.tags:
        if tag not in seen:
            problems.append(f"{tag}: expected tag missing")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
