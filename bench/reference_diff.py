#!/usr/bin/env python3
"""The original BuildTrace design, as bench/run.sh's reference: json.load of both job files, the
set-based diff of their states (added, removed, modified by hash), and the movement sentences.
Standard library only, nothing else, so the figure is what that design costs on this machine.

Usage: bench/reference_diff.py PREVIOUS.json CURRENT.json   (prints the counts as JSON)
"""
import json
import sys


def geometry(value):
    """(type, x, y) of a pseudo-hash "type_x_y_w_h", or None."""
    if not isinstance(value, str):
        return None
    parts = value.rsplit("_", 4)
    if len(parts) != 5:
        return None
    try:
        return parts[0], float(parts[1]), float(parts[2])
    except ValueError:
        return None


def number(v):
    return str(int(v)) if v == int(v) else str(v)


def added_sentence(object_id, value):
    g = geometry(value) or ("unknown", 0.0, 0.0)
    return f"{object_id} ({g[0]} added at x:{number(g[1])}, y:{number(g[2])})"


def modified_sentence(object_id, before, after):
    b = geometry(before) or ("unknown", 0.0, 0.0)
    a = geometry(after) or ("unknown", 0.0, 0.0)
    dx, dy = a[1] - b[1], a[2] - b[2]
    if dx == 0 and dy == 0:
        return f"{object_id} attributes modified (not position)."
    parts = []
    if dx:
        parts.append(f"{number(abs(dx))} units {'east' if dx > 0 else 'west'}")
    if dy:
        parts.append(f"{number(abs(dy))} units {'north' if dy > 0 else 'south'}")
    return f"{object_id} ({b[0]}) moved {' and '.join(parts)}"


def main(previous_path, current_path):
    with open(previous_path, encoding="utf-8") as f:
        previous = json.load(f)["state"]
    with open(current_path, encoding="utf-8") as f:
        current = json.load(f)["state"]
    before, after = set(previous), set(current)
    added = sorted(after - before)
    removed = sorted(before - after)
    modified = sorted(i for i in before & after if previous[i] != current[i])
    sentences = [added_sentence(i, current[i]) for i in added]
    sentences += [f"{i} removed" for i in removed]
    sentences += [modified_sentence(i, previous[i], current[i]) for i in modified]
    print(json.dumps({"added": len(added), "removed": len(removed), "modified": len(modified),
                      "unchanged": len(before & after) - len(modified),
                      "sentences": len(sentences)}))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
