"""The gradproofs command: derive | verify | report | check | list."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from pathlib import Path

from gradproofs.errors import InvalidArgument

__all__ = ["DEFAULT_MAX_EXAMPLES", "parser", "main"]

DEFAULT_MAX_EXAMPLES = 50


def _derive(args) -> int:
    from gradproofs import render

    out = Path(args.out)
    if args.check:
        diff = render.stale(out)
        if diff:
            sys.stdout.write(diff)
            print(f"\n{out} is out of date with the catalogue: run `gradproofs derive --out {out}`",
                  file=sys.stderr)
            return 1
        print(f"{out} is in sync with the catalogue")
        return 0
    for path in render.write(out):
        print(f"wrote {path}")
    return 0


def _progress(index: int, total: int, label: str) -> None:
    text = f"[{index:>2}/{total}] {label}"
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + text)
        if index == total:
            sys.stderr.write("\r\033[K")
    else:
        sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _verify_one(theorem_id: str, device: str, max_examples: int, seed: int) -> dict:
    """Derive and check one theorem on one device: its record, as ``--json`` writes it."""
    import time

    from gradproofs import catalogue, runner

    theorem = catalogue.get(theorem_id)
    start = time.perf_counter()
    try:
        catalogue.derivation(theorem)
        derived = None
    except AssertionError as failure:
        derived = failure
    run = runner.verify(theorem, device, max_examples=max_examples, seed=seed)
    failure = derived or run.failure
    worst = run.worst
    return {"id": theorem.id, "family": theorem.family, "kind": theorem.kind, "device": device,
            "engines": list(theorem.engines_on(device)), "examples": run.examples,
            "used": None if worst is None else worst.used, "raw": None if worst is None else worst.raw,
            "unit": None if worst is None else worst.unit,
            "verdict": "pass" if run.passed and derived is None else "fail",
            "failure": None if failure is None else _failure_text(failure), "seed": seed,
            "seconds": round(time.perf_counter() - start, 3)}


def _failure_text(failure: BaseException) -> str:
    """The failure's message and the notes Hypothesis attached (the falsifying example)."""
    return "\n".join([str(failure), *getattr(failure, "__notes__", [])])


def _row(record: dict) -> tuple:
    """A record as a row of the table: the fraction used, and the raw figure in its unit."""
    worst = record["used"] is not None
    return (record["id"], record["kind"], record["device"], "+".join(record["engines"]), str(record["examples"]),
            f"{record['used']:.3g}" if worst else "-", f"{_figure(record['raw'])} {record['unit']}" if worst else "-",
            "pass" if record["verdict"] == "pass" else "FAIL")


def _figure(value: float, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits, or as many more as it takes not to show 1 for a
    figure that is not 1 (a bound exceeded within rounding: 1.0000000005 of the bound)."""
    shown = f"{value:.{digits}g}"
    while shown == "1" and value != 1 and digits < 17:
        digits += 1
        shown = f"{value:.{digits}g}"
    return shown


_LEGEND = ("used: the largest fraction of its allowance an example used; a check fails above 1.\n"
           "worst: that example's figure in the theorem's own unit.")


def _print_columns(headers: tuple, rows: list) -> None:
    """A table: the headers, a rule, the rows, each column as wide as its widest cell."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def _json_number(value):
    """A finite number as it is; ∞ and NaN as null (JSON has no literal for them)."""
    import math

    return value if value is None or math.isfinite(value) else None


def _write_json(path: str, records: list, *, seed: int, max_examples: int) -> None:
    import json

    failed = sum(record["verdict"] == "fail" for record in records)
    document = {"command": "gradproofs verify", "seed": seed, "max_examples": max_examples,
                "passed": len(records) - failed, "failed": failed,
                "results": [{**record, "used": _json_number(record["used"]), "raw": _json_number(record["raw"])}
                            for record in records]}
    Path(path).write_text(json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
                          encoding="utf-8")


def _xml_text(text: str) -> str:
    """``text`` without the control characters XML 1.0 cannot hold (tab and newlines stay)."""
    return "".join(c for c in text if c in "\t\n\r" or ord(c) >= 32)


def _write_junit(path: str, records: list, *, seed: int, max_examples: int) -> None:
    """A JUnit XML report: one testsuite, one testcase per theorem and device (classname: the family)."""
    import xml.etree.ElementTree as ET

    failed = sum(record["verdict"] == "fail" for record in records)
    counts = {"tests": str(len(records)), "failures": str(failed), "errors": "0", "skipped": "0",
              "time": f"{sum(record['seconds'] for record in records):.3f}"}
    root = ET.Element("testsuites", name="gradproofs verify", **counts)
    suite = ET.SubElement(root, "testsuite", name="gradproofs verify", **counts)
    properties = ET.SubElement(suite, "properties")
    for name, value in (("seed", seed), ("max_examples", max_examples)):
        ET.SubElement(properties, "property", name=name, value=str(value))
    for record in records:
        case = ET.SubElement(suite, "testcase", classname=record["family"],
                             name=f"{record['id']}[{record['device']}]", time=f"{record['seconds']:.3f}")
        properties = ET.SubElement(case, "properties")
        for name in ("kind", "device", "engines", "examples", "used", "raw", "unit", "seed"):
            value = record[name]
            value = "+".join(value) if name == "engines" else "" if value is None else str(value)
            ET.SubElement(properties, "property", name=name, value=_xml_text(value))
        if record["verdict"] == "fail":
            text = _xml_text(record["failure"] or "failed")
            failure = ET.SubElement(case, "failure", message=text.split("\n", 1)[0][:500])
            failure.text = text
        row = _row(record)
        ET.SubElement(case, "system-out").text = _xml_text(
            f"{record['examples']} examples; used {row[5]} of the allowance; worst {row[6]}; "
            f"Hypothesis seed {record['seed']}")
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _verify(args) -> int:
    from gradproofs import catalogue, devices

    try:
        device_list = [devices.resolve(args.device)] if args.device else devices.available()
        selected = [catalogue.get(i) for i in args.only] if args.only else catalogue.theorems()
        if args.family:
            selected = [theorem for theorem in selected if theorem.family in args.family]
    except ValueError as error:
        print(f"gradproofs verify: {error}", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else _random_seed()
    plan = [(t.id, d) for t in selected for d in (device_list if t.uses_torch else ["cpu"]) if d in device_list]
    if args.jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        results = {}
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_verify_one, theorem_id, device, args.max_examples, seed): (theorem_id, device)
                       for theorem_id, device in plan}
            for index, future in enumerate(as_completed(futures), 1):
                theorem_id, device = futures[future]
                results[futures[future]] = future.result()
                _progress(index, len(plan), f"{theorem_id} on {device}")
        records = [results[step] for step in plan]
    else:
        records = []
        for index, (theorem_id, device) in enumerate(plan, 1):
            _progress(index, len(plan), f"{theorem_id} on {device}")
            records.append(_verify_one(theorem_id, device, args.max_examples, seed))
    _print_columns(("theorem", "kind", "device", "engines compared", "examples", "used", "worst", "verdict"),
                   [_row(record) for record in records])
    print(f"\n{_LEGEND}")
    if not args.device and any(theorem.uses_torch for theorem in selected):
        for device, why in devices.missing().items():
            print(f"{device} skipped: {why}; run gradproofs verify --device {device} on a machine with a GPU")
    failures = [record for record in records if record["verdict"] == "fail"]
    for record in failures:
        print(f"\n{record['id']} on {record['device']} failed:\n{record['failure']}")
    print(f"\n{len(records) - len(failures)} passed, {len(failures)} failed "
          f"(Hypothesis seed {seed}: --seed {seed} draws the same examples)")
    if args.json:
        _write_json(args.json, records, seed=seed, max_examples=args.max_examples)
    if args.junit_xml:
        _write_junit(args.junit_xml, records, seed=seed, max_examples=args.max_examples)
    return 1 if failures else 0


def _random_seed() -> int:
    import secrets

    return secrets.randbelow(2 ** 32)


def _report(args) -> int:
    from gradproofs import report

    try:
        paths = report.write(Path(args.out))
    except ImportError as error:
        if "matplotlib" not in str(error):
            raise
        from gradproofs.extras import install_hint

        print(f"gradproofs report needs matplotlib: {install_hint('plots')}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"wrote {path}")
    return 0


def _load_target(spec: str, paths=()):
    """The object a TARGET names: ``module:attr.attr`` or ``path/to/file.py:attr``, from the current
    directory and the folders ``paths`` (``--path``). A file inside a package (a folder with an
    ``__init__.py``) is imported as that package's module, its package root found by walking up
    through the folders that have one, so that its relative imports work."""
    location, _, attribute = spec.rpartition(":")
    if not location or not attribute:
        raise InvalidArgument(f"TARGET must be module:name or path/to/file.py:name, got {spec!r}")
    for folder in paths:
        if not Path(folder).is_dir():
            raise InvalidArgument(f"--path names {folder!r}, which is not a folder")
    sys.path[:0] = [str(Path(folder).resolve()) for folder in paths] + [str(Path.cwd())]
    if location.endswith(".py") or "/" in location or "\\" in location:
        path = Path(location)
        if not path.is_file():
            raise InvalidArgument(f"TARGET names the file {location!r}, which does not exist")
        module = _import_file(path.resolve())
    else:
        module = importlib.import_module(location)
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise InvalidArgument(f"{location}:{attribute}: {type(target).__name__} {getattr(target, '__name__', '')!r} "
                                 f"has no attribute {part!r}")
        target = getattr(target, part)
    return target


def _import_file(path: Path):
    """The module of the file ``path``: as ``package.module`` where its folder is a package, else as
    a module of its own name, with its folder first on the import path (so that its imports work)."""
    root, parts = path.parent, [path.stem]
    while (root / "__init__.py").is_file():
        parts.insert(0, root.name)
        root = root.parent
    sys.path.insert(0, str(root))
    if len(parts) > 1:
        return importlib.import_module(".".join(parts))
    loader = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(loader)
    sys.modules[path.stem] = module
    loader.loader.exec_module(module)
    return module


def _options(pairs) -> dict:
    """``NAME=VALUE`` pairs as keyword arguments: VALUE as a Python literal (numbers, True, tuples,
    dicts, quoted strings), else as the string it is."""
    import ast

    options = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.isidentifier():
            raise InvalidArgument(f"--option must be NAME=VALUE, got {pair!r}")
        try:
            options[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[name] = value
    return options


def _check(args) -> int:
    from gradproofs.errors import Mismatch
    from gradproofs.oracle import ORACLES, options

    try:
        given = _options(args.option)
        for name in ("activation", "cost", "max_examples", "reproduce"):
            if getattr(args, name) is not None:
                given[name] = getattr(args, name)
        given.setdefault("max_examples", 100)
        oracle = args.oracle or ("gradients" if args.spec else "chain")
        if args.spec:
            if oracle != "gradients":
                raise InvalidArgument(f"--spec is the mathematics of --oracle gradients, not of --oracle {oracle}")
            given["spec"] = _load_target(args.spec, args.path)
        checker, run = options.prepared(ORACLES[oracle], given)
        fn = _load_target(args.target, args.path)
        if args.torch_in_place:
            from gradproofs.oracle import torch_in_place

            fn = torch_in_place(fn, with_parameters="parameters" in checker.arguments)
        report = checker.run(fn, **run, replay="run the same command with --reproduce '{blob}'")
    except (InvalidArgument, ImportError) as error:
        print(f"gradproofs check: {error}", file=sys.stderr)
        return 2
    except Mismatch as failure:
        print(failure)
        return 1
    print(report)
    return 0


def _list(args) -> int:
    from gradproofs import catalogue, render

    _print_columns(("theorem", "family", "kind", "title"),
                   [(t.id, t.family, t.kind, render.plain(t.title)) for t in catalogue.theorems()])
    return 0


def parser() -> argparse.ArgumentParser:
    from gradproofs import catalogue
    from gradproofs.oracle import ORACLES

    main = argparse.ArgumentParser(prog="gradproofs", description=__doc__.split("\n")[0])
    commands = main.add_subparsers(dest="command", required=True)

    derive = commands.add_parser("derive", help="render derivations/ from the catalogue")
    derive.add_argument("--out", default="derivations", help="folder to write (default: derivations)")
    derive.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 with a diff if the folder is stale")
    derive.set_defaults(run=_derive)

    verify = commands.add_parser("verify", help="check every theorem numerically and print a table")
    verify.add_argument("--device", choices=("cpu", "cuda"),
                        help="only this device (default: cpu and, where available, cuda)")
    verify.add_argument("--only", nargs="+", metavar="ID", help="only these theorem ids")
    verify.add_argument("--family", nargs="+", choices=list(catalogue.declarations()), metavar="FAMILY",
                        help=f"only the theorems of these families ({', '.join(catalogue.declarations())})")
    verify.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES,
                        help=f"Hypothesis examples per theorem and device (default {DEFAULT_MAX_EXAMPLES})")
    verify.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="check N theorems at a time, each in its own process (default 1)")
    verify.add_argument("--seed", type=int, metavar="N",
                        help="the Hypothesis seed, so that a run can be repeated (default: a random one, printed)")
    verify.add_argument("--json", metavar="FILE",
                        help="also write one record per theorem and device as JSON to FILE")
    verify.add_argument("--junit-xml", metavar="FILE",
                        help="also write a JUnit XML report to FILE (one testcase per theorem and device)")
    verify.set_defaults(run=_verify)

    report = commands.add_parser("report", help="draw the figures (needs the plots extra)")
    report.add_argument("--out", default="report", help="folder for the PNG files (default: report)")
    report.set_defaults(run=_report)

    oracles = "; ".join(f"{name}: {oracle.signature}" for name, oracle in ORACLES.items())
    check = commands.add_parser("check", help="check your own gradient or clipping code against an oracle",
                                description=f"The oracles and what fn takes and returns: {oracles}.")
    check.add_argument("target", help="your function, as module:name (module:object.method) or path/to/file.py:name")
    check.add_argument("--oracle", choices=list(ORACLES),
                       help="which oracle (default: gradients with --spec, else chain)")
    check.add_argument("--spec", metavar="FILE:NAME",
                       help="for the gradients oracle: the spec, a function of the named tensors in torch operations "
                            "(as module:name or path/to/file.py:name); its shapes as --option \"shapes={'x': ('B', "
                            "'D')}\"")
    check.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                       help="an option of the oracle, e.g. --option reduction=sum --option 'returns=(\"db\", \"dW\")'; "
                            "VALUE is read as a Python literal, else as a string")
    check.add_argument("--activation", help="the activation (for chain, mlp and rnn)")
    check.add_argument("--cost", help="the cost (for chain and mlp)")
    check.add_argument("--max-examples", type=int, help="Hypothesis examples (default 100)")
    check.add_argument("--reproduce", metavar="BLOB", help="replay the failure a report printed")
    check.add_argument("--path", action="append", default=[], metavar="FOLDER",
                       help="a folder to import from, before the current one (repeatable); a TARGET file inside a "
                            "package is imported as part of it without this")
    check.add_argument("--torch-in-place", action="store_true",
                       help="TARGET is a torch-style clipper that changes each parameter's .grad in place, as "
                            "torch.nn.utils.clip_grad_norm_ does (for clip-norm, clip-value and clip-agc, whose "
                            "parameters hold the values drawn)")
    check.set_defaults(run=_check)

    listing = commands.add_parser("list", help="list the theorems")
    listing.set_defaults(run=_list)
    return main


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "max_examples", None) is not None and args.max_examples < 1:
        parser().error("--max-examples must be at least 1")
    if getattr(args, "jobs", 1) < 1:
        parser().error("--jobs must be at least 1")
    if (getattr(args, "seed", None) or 0) < 0:
        parser().error("--seed must be a non-negative integer")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
