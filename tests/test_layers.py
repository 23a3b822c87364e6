"""The folder layout's promises, pinned: tenancy imports no feature code, only delivery's
gateway imports `kubernetes` and only the Amazon ECR kind the AWS SDK, and a process that never
talks to a cluster (or to AWS) never loads them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ("registries", "delivery", "pullhealth")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(package: str):
    return [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]


def test_tenancy_imports_no_feature_code():
    offending = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] in FEATURES
        )
        for path in python_files("orgsettings")
    }
    assert {path: names for path, names in offending.items() if names} == {}


def test_only_the_gateway_imports_kubernetes():
    importers = sorted(
        str(path.relative_to(ROOT))
        for package in ("orgsettings", *FEATURES)
        for path in python_files(package)
        if any(name.split(".")[0] == "kubernetes" for name in imported_modules(path))
    )
    assert importers
    assert all(path.startswith("delivery/kube/") for path in importers), importers


def test_only_the_amazon_ecr_kind_imports_the_aws_sdk():
    importers = sorted(
        str(path.relative_to(ROOT))
        for package in ("orgsettings", *FEATURES, "operations")
        for path in python_files(package)
        if any(name.split(".")[0] in {"boto3", "botocore"} for name in imported_modules(path))
    )
    assert importers == ["registries/auth_kinds/ecr.py"]


def test_django_setup_and_the_web_application_do_not_load_kubernetes():
    code = (
        "import sys, django; django.setup();"
        "from orgsettings.wsgi import application;"
        "from django.test import Client;"
        "import orgsettings.urls, registries.views, delivery.admin, delivery.services, delivery.tasks;"
        "import pullhealth.services, pullhealth.page, pullhealth.tasks, pullhealth.models;"
        "print('kubernetes' in sys.modules, 'boto3' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "orgsettings.settings",
            "DEBUG": "true",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": "sqlite:///:memory:",
        },
    )
    # Nor the AWS SDK: it is loaded when an Amazon ECR token is minted, not before.
    assert result.stdout.strip() == "False False"
