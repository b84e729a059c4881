"""The release's packaging (scripts/dist-package, which scripts/dist runs) and the
Serverless Application Repository metadata, on the template this rehearsal runs on:
template.yaml, or a packaged dist/template.yaml (REHEARSAL_TEMPLATE, as
scripts/deploy-rehearsal and scripts/dist-rehearsal set it)."""

from __future__ import annotations

import copy
import hashlib
import importlib.machinery
import importlib.util
import json
import re
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest
from samtranslator.yaml_helper import yaml_parse

import cfn
from cfn import ROOT


def _script(name: str):
    """scripts/NAME (a Python script without .py) imported as a module."""
    path = ROOT / "scripts" / name
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


pkg = _script("dist-package")
VERSION = pkg.workspace_version()
SOURCE = (ROOT / "template.yaml").read_text(encoding="utf-8")


def parse(text: str) -> dict:
    return yaml_parse(text)


def raw(path: Path = cfn.TEMPLATE) -> dict:
    """The rehearsed template as written (cfn.load_sam replaces CodeUri)."""
    return parse(path.read_text(encoding="utf-8"))


# --- the Serverless Application Repository's metadata -------------------------------------------

def test_sar_metadata_is_what_the_repository_accepts():
    """The rules of AWS::ServerlessRepo::Application as the SAM developer guide states them."""
    app = raw()["Metadata"]["AWS::ServerlessRepo::Application"]
    assert set(app) == {"Name", "Description", "Author", "SpdxLicenseId", "LicenseUrl", "ReadmeUrl",
                        "Labels", "HomePageUrl", "SemanticVersion", "SourceCodeUrl"}
    assert re.fullmatch(r"[a-zA-Z0-9\-]{1,140}", app["Name"])
    assert 1 <= len(app["Description"]) <= 256
    assert len(app["Author"]) <= 127 and re.fullmatch(r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?", app["Author"])
    assert 1 <= len(app["Labels"]) <= 10
    for label in app["Labels"]:
        assert re.fullmatch(r"[a-zA-Z0-9+\-_:/@]{1,127}", label), label
    assert app["SpdxLicenseId"] == "MIT"
    assert app["SemanticVersion"] == VERSION
    assert app["HomePageUrl"].startswith("https://")
    assert app["SourceCodeUrl"] == f"{app['HomePageUrl']}/tree/v{VERSION}"
    # Local files, which `sam package` uploads: they must be beside the template.
    here = cfn.TEMPLATE.parent
    assert (here / app["LicenseUrl"]).read_text(encoding="utf-8").startswith("MIT License")
    assert (here / app["ReadmeUrl"]).is_file()
    # No intrinsic functions: the repository reads the block as it is.
    assert all(isinstance(v, (str, list)) for v in app.values())


def test_the_rehearsed_template_s_code():
    """template.yaml builds from source; a packaged one names the zip beside it, whose
    only entry is an executable `bootstrap`."""
    fn = raw()["Resources"]["WebhookFunction"]
    if cfn.TEMPLATE == ROOT / "template.yaml":
        assert fn["Properties"]["CodeUri"] == "."
        assert fn["Metadata"]["BuildMethod"] == "rust-cargolambda"
        return
    assert "BuildMethod" not in fn["Metadata"] and "BuildProperties" not in fn["Metadata"]
    [arch] = fn["Properties"]["Architectures"]
    assert fn["Properties"]["CodeUri"] == pkg.zip_name(VERSION, arch)
    assert cfn.TEMPLATE.name == pkg.template_file_name(arch)
    with zipfile.ZipFile(cfn.TEMPLATE.parent / fn["Properties"]["CodeUri"]) as z:
        [entry] = z.infolist()
        assert entry.filename == "bootstrap"
        assert entry.external_attr >> 16 == 0o100755
        names = {p["name"]: p["version"] for p in pkg.embedded_dependencies(z.read("bootstrap"))}
    # The dependency list cargo auditable put in the binary names this release and the SDK.
    assert names["webhook"] == VERSION and "aws-sdk-s3" in names and "lambda_runtime" in names


# --- the packaging --------------------------------------------------------------------------------

@pytest.mark.parametrize("arch", pkg.ARCHES)
def test_packaging_changes_the_code_the_architecture_and_the_header_only(arch):
    packaged = pkg.packaged_template(SOURCE, VERSION, arch)
    want = copy.deepcopy(parse(SOURCE))
    fn = want["Resources"]["WebhookFunction"]
    fn["Properties"]["CodeUri"] = f"webhook-{VERSION}-{arch}.zip"
    fn["Properties"]["Architectures"] = [arch]
    del fn["Metadata"]["BuildMethod"], fn["Metadata"]["BuildProperties"]
    assert parse(packaged) == want
    # The comments the template explains itself with stay, apart from the build's.
    kept = [line for line in SOURCE.splitlines() if line.lstrip().startswith("#")]
    gone = [line for line in kept if line not in packaged.splitlines()]
    assert len(gone) == 4 and all("sam build" in g or "Deploy: sam deploy" in g
                                  or "workspace root (CodeUri)" in g for g in gone), gone
    assert f"webhook-{VERSION}-{arch}.zip beside this file" in packaged


def test_packaging_refuses_a_template_it_does_not_know():
    with pytest.raises(pkg.PackageError, match="CodeUri"):
        pkg.packaged_template(SOURCE.replace(pkg.CODE_URI, "      CodeUri: ./\n"), VERSION, "arm64")
    with pytest.raises(pkg.PackageError, match="2 copies"):
        pkg.packaged_template(SOURCE + pkg.ARCHITECTURES, VERSION, "arm64")
    with pytest.raises(pkg.PackageError, match="SemanticVersion is not 9.9.9"):
        pkg.packaged_template(SOURCE, "9.9.9", "arm64")
    with pytest.raises(pkg.PackageError, match="not one of arm64, x86_64"):
        pkg.packaged_template(SOURCE, VERSION, "riscv64")


def test_template_file_names():
    assert pkg.template_file_name("arm64") == "template.yaml"
    assert pkg.template_file_name("x86_64") == "template-x86_64.yaml"


def test_the_lambda_zip_depends_on_the_binary_alone(tmp_path):
    binary = b"\x7fELF" + bytes(range(256)) * 64
    a, b = pkg.lambda_zip(binary), pkg.lambda_zip(binary)
    assert a == b, "the same binary, the same zip bytes"
    assert pkg.lambda_zip(binary + b"x") != a
    path = tmp_path / "w.zip"
    path.write_bytes(a)
    with zipfile.ZipFile(path) as z:
        [entry] = z.infolist()
        assert z.testzip() is None
        assert (entry.filename, entry.date_time, entry.create_system) == ("bootstrap", (1980, 1, 1, 0, 0, 0), 3)
        assert entry.external_attr >> 16 == 0o100755
        assert entry.compress_type == zipfile.ZIP_DEFLATED
        assert z.read("bootstrap") == binary


def test_sha256sums_cover_every_file_in_order_and_sha256sum_reads_them(tmp_path):
    (tmp_path / "schemas").mkdir()
    files = {"b.zip": b"b", "a.yaml": b"a", "schemas/x.json": b"{}", "SHA256SUMS": b"old"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    sums = pkg.sha256sums(tmp_path)
    assert sums == "".join(f"{hashlib.sha256(files[n]).hexdigest()}  {n}\n"
                           for n in ["a.yaml", "b.zip", "schemas/x.json"])
    (tmp_path / "SHA256SUMS").write_text(sums)
    check = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    (tmp_path / "b.zip").write_bytes(b"changed")
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=tmp_path,
                          capture_output=True).returncode == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(pkg.PackageError, match="no files"):
        pkg.sha256sums(tmp_path / "empty")


def test_check_template_tells_a_current_dist_from_a_stale_one(tmp_path, capsys):
    assert pkg.main(["dist-package", "check-template", str(tmp_path)]) == 1
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "template.yaml").write_text(pkg.packaged_template(SOURCE, VERSION, "arm64"), encoding="utf-8")
    assert pkg.main(["dist-package", "check-template", str(tmp_path)]) == 0
    (tmp_path / "template.yaml").write_text(pkg.packaged_template(SOURCE, VERSION, "x86_64"), encoding="utf-8")
    assert pkg.main(["dist-package", "check-template", str(tmp_path)]) == 1
    assert "built from another commit" in capsys.readouterr().err


def elf_with_sections(sections: dict[str, bytes]) -> bytes:
    """A minimal 64-bit little-endian ELF file holding `sections` (and their names)."""
    names = b"\0.shstrtab\0" + b"".join(n.encode() + b"\0" for n in sections)
    body, headers = bytearray(), [bytes(64)]  # section 0 is the null section
    data_at = 64

    def header(name_at: int, data: bytes) -> bytes:
        nonlocal data_at
        h = struct.pack("<IIQQQQIIQQ", name_at, 1, 0, 0, data_at + len(body), len(data), 0, 0, 1, 0)
        body.extend(data)
        return h

    headers.append(header(1, names))
    for name, data in sections.items():
        headers.append(header(names.index(name.encode() + b"\0"), data))
    shoff = data_at + len(body)
    ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    elf_header = ident + bytes(0x28 - 16) + struct.pack("<Q", shoff) + bytes(0x3A - 0x30)
    elf_header += struct.pack("<HHH", 64, len(headers), 1)
    return elf_header + bytes(64 - len(elf_header)) + bytes(body) + b"".join(headers)


def test_the_dependency_list_is_read_from_the_binary():
    packages = [{"name": "webhook", "version": VERSION, "source": "local"},
                {"name": "aws-sdk-s3", "version": "1.0.0", "source": "crates.io"}]
    dep = zlib.compress(json.dumps({"packages": packages}).encode())
    assert pkg.embedded_dependencies(elf_with_sections({".text": b"\0" * 8, ".dep-v0": dep})) == packages
    with pytest.raises(pkg.PackageError, match="no .dep-v0 section"):
        pkg.embedded_dependencies(elf_with_sections({".text": b"\0" * 8}))
    with pytest.raises(pkg.PackageError, match="not cargo auditable's data"):
        pkg.embedded_dependencies(elf_with_sections({".dep-v0": b"not zlib"}))
    with pytest.raises(pkg.PackageError, match="not a 64-bit"):
        pkg.embedded_dependencies(b"#!/bin/sh\n")


# --- scripts/dist-rehearsal's own helpers -----------------------------------------------------

reh = _script("dist-rehearsal")


def test_rust_is_taken_off_the_path(tmp_path):
    rust, other = tmp_path / "cargo-bin", tmp_path / "bin"
    for d, tool in ((rust, "rustc"), (other, "python3")):
        d.mkdir()
        (d / tool).write_text("#!/bin/sh\n")
        (d / tool).chmod(0o755)
    assert reh.without_rust(f"{rust}:{other}:{rust}") == str(other)
    assert reh.without_rust(str(other)) == str(other)


SHOWN = """s3://extracta-results/
       120  extracta/_deliveries/2026/12/06/extraction.failed/{h}.json
        60  extracta/e/b/f/failed.json
  (2 objects)
http://127.0.0.1:{port}/123456789012/extracta-failed-queue
  [event=extraction.failed] {{"event":"extraction.failed","eventId":"{h}","receivedAt":"2026-12-06T08:00:0{s}.123Z"}}
  (1 messages)
http://127.0.0.1:{port}/123456789012/extracta-events-rule-target
  [] {{"id":"{id}","detail-type":"extraction.failed","time":"2026-12-06T08:00:0{s}Z","detail":{{"fileId":"f"}}}}
  (1 messages)
"""
ANSWER = 'HTTP 200 OK\n{"event":"extraction.failed","archived":"extracta/_deliveries/2026/12/06/x.json"}'


def _landed(**kw):
    fields = {"h": "a" * 64, "port": 5000, "s": 1, "id": "e-1", **kw}
    return reh.landed("t", {"answers": [("extraction.failed", 0, ANSWER)], "shown": SHOWN.format(**fields)})


def test_two_runs_compare_equal_apart_from_times_ports_and_event_ids():
    a, b = _landed(), _landed(port=6000, s=7, id="e-2")
    assert a == b
    assert a["objects"] == {(120, "extracta/_deliveries/<date>/extraction.failed/" + "a" * 64 + ".json"),
                            (60, "extracta/e/b/f/failed.json")}
    assert [len(m) for m in a["queues"].values()] == [1, 1]
    assert a["answers"][0][2] == "200"


def test_a_difference_in_what_landed_is_seen():
    assert _landed() != _landed(h="b" * 64), "another eventId and archive key"
    other_detail = reh.landed("t", {"answers": [("extraction.failed", 0, ANSWER)],
                                    "shown": SHOWN.format(h="a" * 64, port=5000, s=1, id="e-1")
                                    .replace('"fileId":"f"', '"fileId":"g"')})
    assert _landed()["queues"] != other_detail["queues"]
    with pytest.raises(reh.RehearsalError, match="no HTTP status"):
        reh.landed("t", {"answers": [("x", 1, "connection refused")], "shown": ""})
