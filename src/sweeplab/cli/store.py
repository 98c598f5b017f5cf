"""``sweeplab store`` and ``sweeplab data``."""

from __future__ import annotations

from sweeplab import api, data, environment


def cmd_store(args) -> int:
    ready = api.open_stores(args.tracking_uri, args.storage)
    print(f"MLflow store ready: {ready['tracking_uri']}")
    if args.storage:
        print(f"Optuna storage ready: {ready['storage']}")
    return 0


def cmd_data(args) -> int:
    directory = data.default_data_dir()
    if args.check:
        status = data.check(directory)
        for name, state in status.items():
            print(f"{directory / name}: {state}")
        return 0 if all(state == "ok" for state in status.values()) else 1
    glove_mirror = environment.read("SWEEPLAB_GLOVE_MIRROR")
    found = api.fetch_data(mirror=environment.read("SWEEPLAB_DATA_MIRROR"), glove_mirror=glove_mirror)
    for name in data.SOURCES:
        record = found[name]
        print(f"{name}: {record['rows']} rows {record['class_counts']} sha256 {record['sha256'][:12]}… ok")
    print(f"data in {directory}: all files verified")
    if glove_mirror:
        print(f"GloVe vectors: {found['glove']} verified")
    elif not data.glove_path().is_file():
        print(f"GloVe vectors: not fetched (set SWEEPLAB_GLOVE_MIRROR to a directory holding {data.GLOVE[0]}); "
              "only sweeps with embeddings: need them")
    return 0

