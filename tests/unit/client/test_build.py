"""Client.build: a signed URL reference keeps its token out of what is shown."""

from __future__ import annotations

from kirin_jupyter.client import Client


def test_a_signed_url_reference_keeps_its_token_out_of_labels_and_summaries() -> None:
    url = "https://cdn.example.com/ref.png?X-Amz-Signature=s3cr3t&X-Amz-Credential=AKIA1"
    client = Client()
    request = client.build("a fox like <<<image_1>>>", images=[url])
    assert request.images[0].value == url  # the service still gets the whole URL
    assert request.images[0].label == "https://cdn.example.com/ref.png"
    assert "s3cr3t" not in repr(request) and "s3cr3t" not in str(request.summary())
