"""Signed test requests carry the headers a real delivery carries, as the README's view reads."""

from __future__ import annotations

import pytest
from django.http import JsonResponse
from django.urls import path

from django_qstash.receiver import qstash_verified
from django_qstash.testing import QStashTestClient, delivery_headers

KEY = "sig_" + "x" * 28


@qstash_verified
def order_paid(request):
    # As in the README: a receiver dedupes by the message id.
    return JsonResponse({"id": request.headers["Upstash-Message-Id"],
                         "retried": request.headers["Upstash-Retried"],
                         "ua": request.headers["User-Agent"]})


urlpatterns = [path("hooks/paid", order_paid)]
pytestmark = pytest.mark.urls(__name__)


@pytest.fixture(autouse=True)
def key(settings):
    settings.QSTASH = {**settings.QSTASH, "CURRENT_SIGNING_KEY": KEY}


def test_post_signed_sends_a_message_id_and_retried(db):
    response = QStashTestClient().post_signed("/hooks/paid", {"id": 1},
                                              content_type="application/json")
    assert response.status_code == 200
    answer = response.json()
    assert answer["id"].startswith("msg_") and answer["retried"] == "0"
    assert answer["ua"] == "Upstash-QStash"


def test_delivery_headers_can_be_overridden(db):
    response = QStashTestClient().post_signed(
        "/hooks/paid", {"id": 1}, content_type="application/json",
        headers={"Upstash-Message-Id": "msg_fixed", "Upstash-Retried": "2"})
    assert response.json()["id"] == "msg_fixed" and response.json()["retried"] == "2"
    response = QStashTestClient().post_signed("/hooks/paid", {}, content_type="application/json",
                                              HTTP_UPSTASH_RETRIED="3")
    assert response.json()["retried"] == "3"


def test_each_signed_request_gets_its_own_message_id():
    assert delivery_headers()["Upstash-Message-Id"] != delivery_headers()["Upstash-Message-Id"]
