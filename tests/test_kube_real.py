"""Against a real cluster (pytest --kube-real with KUBECONFIG): the gateway reaches it.

With --kube-real, the cluster tests in test_delivery.py and test_reconcile_command.py also run
against that cluster, except those that need the fake API server's failure switches.
"""

from __future__ import annotations

import pytest

from delivery import kube

pytestmark = [pytest.mark.django_db, pytest.mark.kube_real]


def test_the_configured_real_cluster_answers(cluster):
    gateway = kube.connect(cluster.row)
    assert "org-acme" in gateway.list_namespaces()
