"""Loads template.yaml, translates it with aws-sam-translator, and resolves the result
for one set of parameter values, so the tests can assert on plain data.

Resolution is symbolic where only a real deploy knows the value: `Ref` to a resource
becomes "{Name}", `Fn::GetAtt` becomes "{Name.Attr}", inside `Fn::Sub` too. Pseudo
parameters take fixed values (account 123456789012, us-east-1, partition aws).
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
# REHEARSAL_TEMPLATE: rehearse a scratch copy (e.g. to watch a widened policy fail), or
# a packaged release's template (dist/template.yaml, scripts/dist).
TEMPLATE = Path(os.environ.get("REHEARSAL_TEMPLATE") or ROOT / "template.yaml").resolve()

ACCOUNT = "123456789012"
REGION = "us-east-1"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::StackName": "rehearsal",
    "AWS::URLSuffix": "amazonaws.com",
}
# `sam package` replaces the local CodeUri with an S3 location; the rehearsal does the
# same (the moto test uploads a placeholder zip there).
ARTIFACT_BUCKET = "rehearsal-artifacts"
ARTIFACT_KEY = "webhook.zip"


def load_sam(path: Path = TEMPLATE) -> dict[str, Any]:
    """The SAM template as data, with CodeUri pointing at the packaged artifact.

    Parsed with aws-sam-translator's own YAML loader (samtranslator.yaml_helper), which turns
    CloudFormation's short-form intrinsics (!Ref, !Sub, !GetAtt, ...) into their long form.
    """
    template = yaml_parse(Path(path).read_text(encoding="utf-8"))
    fn = template["Resources"]["WebhookFunction"]["Properties"]
    fn["CodeUri"] = f"s3://{ARTIFACT_BUCKET}/{ARTIFACT_KEY}"
    return template


class _NoManagedPolicies:
    """The template names no managed policy; fail loudly if SAM ever asks for one."""

    def load(self) -> dict[str, str]:
        raise AssertionError("SAM asked for managed policies; the template should use none")


def translate(sam: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation as aws-sam-translator produces it (what `sam deploy` submits)."""
    from samtranslator.translator.transform import transform

    # The translator asks boto for the region (for ARNs); never for credentials.
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    return transform(copy.deepcopy(sam), dict(params), _NoManagedPolicies())


def default_params(template: dict[str, Any]) -> dict[str, Any]:
    return {k: v.get("Default") for k, v in template["Parameters"].items()}


NOVALUE = object()


class Resolver:
    """Evaluates intrinsics of a (translated) template for given parameter values."""

    def __init__(self, template: dict[str, Any], overrides: dict[str, Any] | None = None):
        self.t = template
        self.params: dict[str, Any] = {}
        for name, spec in template.get("Parameters", {}).items():
            value = (overrides or {}).get(name, spec.get("Default"))
            if spec.get("Type") == "CommaDelimitedList":
                value = [s.strip() for s in str(value if value is not None else "").split(",")]
            self.params[name] = value
        unknown = set(overrides or {}) - set(self.params)
        assert not unknown, f"unknown parameters {unknown}"
        self._conditions: dict[str, bool] = {}

    # -- conditions -------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.value(self.t["Conditions"][name]))
        return self._conditions[name]

    def exists(self, logical_id: str) -> bool:
        res = self.t["Resources"][logical_id]
        return "Condition" not in res or self.condition(res["Condition"])

    # -- values -----------------------------------------------------------------
    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            out = [self.value(n) for n in node]
            return [v for v in out if v is not NOVALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else arg.split(".", 1)
                return "{%s.%s}" % (parts[0], self.value(parts[1]))
            if key == "Fn::If":
                cond, a, b = arg
                return self.value(a if self.condition(cond) else b)
            if key == "Fn::Equals":
                a, b = (self.value(x) for x in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::And":
                return all(self.value(x) for x in arg)
            if key == "Fn::Or":
                return any(self.value(x) for x in arg)
            if key == "Fn::Join":
                sep, items = arg
                items = self.value(items)
                return sep.join(str(i) for i in items)
            if key == "Fn::Split":
                sep, text = arg
                return str(self.value(text)).split(sep)
            if key == "Fn::Select":
                idx, items = arg
                return self.value(items)[int(self.value(idx))]
            if key == "Fn::Sub":
                return self._sub(arg)
        out = {k: self.value(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not NOVALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NOVALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.params:
            return self.params[name]
        assert name in self.t["Resources"], f"Ref to unknown {name}"
        return "{%s}" % name

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg
            variables = {k: self.value(v) for k, v in variables.items()}
        else:
            text, variables = arg, {}

        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name:
                res, attr = name.split(".", 1)
                assert res in self.t["Resources"], f"Sub of unknown {name}"
                return "{%s.%s}" % (res, attr)
            return str(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", one, text)

    # -- shortcuts --------------------------------------------------------------
    def resources(self) -> dict[str, dict[str, Any]]:
        """Every resource that exists under these parameters, properties resolved."""
        out = {}
        for lid, res in self.t["Resources"].items():
            if self.exists(lid):
                r = {k: v for k, v in res.items() if k not in ("Condition",)}
                r["Properties"] = self.value(res.get("Properties", {}))
                out[lid] = r
        return out

    def outputs(self) -> dict[str, Any]:
        return {k: self.value(v["Value"]) for k, v in self.t.get("Outputs", {}).items()
                if "Condition" not in v or self.condition(v["Condition"])}


def statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    st = policy_document["Statement"]
    return st if isinstance(st, list) else [st]


def as_list(x: Any) -> list[Any]:
    return x if isinstance(x, list) else [x]


def grants(policy_document: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    """(Effect, action, resource, condition as canonical JSON) for every pair."""
    out = set()
    for st in statements(policy_document):
        cond = json.dumps(st.get("Condition", {}), sort_keys=True)
        for action in as_list(st["Action"]):
            for resource in as_list(st["Resource"]):
                out.add((st["Effect"], action, resource, cond))
    return out
