"""Token resolution over template snippets of the shape CDK synthesizes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from retailsage.core.errors import UserError
from retailsage.pipeline.asl import LocalAccount, TemplateResolver

PARTITION = {"Ref": "AWS::Partition"}
BUCKET = "rs-data-123456789012-us-east-1"
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/Storage-PredictionsTable"

STORAGE: dict[str, Any] = {
    "Resources": {
        "DataBucketE3889A50": {
            "Type": "AWS::S3::Bucket",
            "Properties": {"BucketName": "rs-data-123456789012-us-east-1"},
        },
        "PredictionsTable": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
    },
    "Outputs": {
        "ExportTable": {
            "Value": {"Fn::GetAtt": ["PredictionsTable", "Arn"]},
            "Export": {"Name": "Storage:ExportsOutputFnGetAttPredictionsTableArn"},
        }
    },
}

PIPELINE: dict[str, Any] = {
    "Parameters": {"BootstrapVersion": {"Type": "String", "Default": "/cdk-bootstrap/hnb659fds"}},
    "Resources": {
        "ExtractFunction": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"FunctionName": "rs-extract"},
        },
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "rs-sagemaker"}},
        "Machine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "DefinitionString": {
                    "Fn::Join": [
                        "",
                        [
                            '{"StartAt":"Extract Data","States":{"Extract Data":{"Type":"Task",'
                            '"Resource":"arn:',
                            PARTITION,
                            ':states:::lambda:invoke","Parameters":{"FunctionName":"',
                            {"Fn::GetAtt": ["ExtractFunction", "Arn"]},
                            '","Payload.$":"$"},"Next":"Notify"},"Notify":{"Type":"Task",'
                            '"Resource":"arn:',
                            PARTITION,
                            ':states:::sns:publish","Parameters":{"TopicArn":"',
                            {"Ref": "Topic"},
                            '","Message":"${Table}","RoleArn":"',
                            {"Fn::GetAtt": ["Role", "Arn"]},
                            '"},"End":true}}}',
                        ],
                    ]
                },
                "DefinitionSubstitutions": {
                    "Table": {"Fn::ImportValue": "Storage:ExportsOutputFnGetAttPredictionsTableArn"}
                },
            },
        },
    },
}


@pytest.fixture
def resolver() -> TemplateResolver:
    return TemplateResolver({"Storage": STORAGE, "Pipeline": PIPELINE}, LocalAccount())


def test_definition_resolves_join_getatt_ref_and_import(resolver: TemplateResolver) -> None:
    definition = resolver.state_machine_definition("Pipeline", "Machine")
    extract = definition["States"]["Extract Data"]
    assert extract["Resource"] == "arn:aws:states:::lambda:invoke"
    assert extract["Parameters"]["FunctionName"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:rs-extract"
    )
    notify = definition["States"]["Notify"]["Parameters"]
    assert notify["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:Pipeline-Topic"
    assert notify["RoleArn"] == "arn:aws:iam::123456789012:role/rs-sagemaker"
    assert notify["Message"] == TABLE_ARN
    assert "Fn::" not in json.dumps(definition)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "DataBucketE3889A50"}, BUCKET),
        ({"Fn::GetAtt": ["DataBucketE3889A50", "Arn"]}, f"arn:aws:s3:::{BUCKET}"),
        ({"Fn::GetAtt": "PredictionsTable.Arn"}, TABLE_ARN),
        ({"Fn::Sub": "arn:${AWS::Partition}:s3:::${DataBucketE3889A50}/*"}, f"arn:aws:s3:::{BUCKET}/*"),  # noqa: E501
        ({"Fn::Sub": ["${A}-${AWS::Region}", {"A": {"Ref": "AWS::AccountId"}}]}, "123456789012-us-east-1"),  # noqa: E501
        ({"Fn::Select": [1, {"Fn::Split": ["/", "a/b/c"]}]}, "b"),
        ({"Fn::Sub": "${!Literal}"}, "${Literal}"),
    ],
)  # fmt: skip
def test_intrinsics(resolver: TemplateResolver, value: Any, expected: str) -> None:
    assert resolver.resolve(value, "Storage") == expected


def test_no_value_is_dropped_and_parameters_use_defaults(resolver: TemplateResolver) -> None:
    value = {
        "A": {"Ref": "AWS::NoValue"},
        "B": [1, {"Ref": "AWS::NoValue"}],
        "C": {"Ref": "BootstrapVersion"},
    }
    assert resolver.resolve(value, "Pipeline") == {"B": [1], "C": "/cdk-bootstrap/hnb659fds"}


def test_unknown_reference_and_intrinsic_are_user_errors(resolver: TemplateResolver) -> None:
    with pytest.raises(UserError, match="Missing"):
        resolver.resolve({"Ref": "Missing"}, "Pipeline")
    with pytest.raises(UserError, match="Fn::If"):
        resolver.resolve({"Fn::If": ["C", 1, 2]}, "Pipeline")
    with pytest.raises(UserError, match="no stack exports"):
        resolver.resolve({"Fn::ImportValue": "nope"}, "Pipeline")
