"""Alibaba Cloud's RPC signature, checked against the example in Alibaba's own reference."""

from __future__ import annotations

from afterorder.channels import aliyun_signing

# Alibaba's signature example (help.aliyun.com/document_detail/101343): inputs, string to sign, signature
EXAMPLE = {
    "AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123", "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用", "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466", "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007", "TemplateParam": '{"customer":"test"}', "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}
EXAMPLE_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26PhoneNumbers%3D15300000001"
    "%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4"
    "%25BF%25A1%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1"
    "%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0%26TemplateCode%3DSMS_71390007"
    "%26TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D%26Timestamp%3D2017-07-12T02%253A42%253A19Z"
    "%26Version%3D2017-05-25"
)


def test_the_references_example_gives_its_string_to_sign() -> None:
    assert aliyun_signing.string_to_sign("GET", EXAMPLE) == EXAMPLE_STRING_TO_SIGN


def test_the_references_example_gives_its_signature() -> None:
    assert aliyun_signing.signature("GET", EXAMPLE, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_a_wrong_secret_or_a_changed_parameter_gives_another_signature() -> None:
    assert aliyun_signing.signature("GET", EXAMPLE, "testSecreT") != "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert aliyun_signing.signature("GET", {**EXAMPLE, "PhoneNumbers": "15300000002"}, "testSecret") \
        != "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert aliyun_signing.signature("POST", EXAMPLE, "testSecret") != "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_signed_params_carry_the_signature_and_it_is_not_signed_itself() -> None:
    signed = aliyun_signing.signed("GET", EXAMPLE, "testSecret")

    assert signed["Signature"] == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert aliyun_signing.signature("GET", signed, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_percent_encoding_is_rfc3986_not_form_encoding() -> None:
    assert aliyun_signing.percent("a b*c~d+e/") == "a%20b%2Ac~d%2Be%2F"
