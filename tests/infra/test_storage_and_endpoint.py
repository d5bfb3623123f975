"""Storage stack (bucket, table) and the real-time endpoint stack."""

import pytest
from infra.stacks.storage_stack import PARTITION_KEY, SORT_KEY

pytestmark = pytest.mark.xdist_group("cdk-synth")


def test_data_bucket_is_encrypted_private_versioned_and_logged(storage, of_type, config):
    buckets = {
        b["Properties"]["BucketName"]: b for b in of_type(storage, "AWS::S3::Bucket").values()
    }
    data = buckets[config.names.data_bucket]
    props = data["Properties"]
    assert data["DeletionPolicy"] == "Retain"
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["AbortIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 7
    }
    assert props["LoggingConfiguration"]["DestinationBucketName"]["Ref"].startswith(
        "AccessLogBucket"
    )


def test_buckets_deny_requests_without_tls(storage, of_type):
    policies = of_type(storage, "AWS::S3::BucketPolicy").values()
    assert len(policies) == 2
    for policy in policies:
        denies = [
            s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
        ]
        assert denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_predictions_table_keys_and_recovery(storage, of_type, config):
    (table,) = of_type(storage, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert table["DeletionPolicy"] == "Retain"
    assert props["TableName"] == config.names.predictions_table
    assert props["KeySchema"] == [
        {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
    ]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_model_package_group_is_retained_and_named_for_the_register_state(storage, of_type, config):
    (group,) = of_type(storage, "AWS::SageMaker::ModelPackageGroup").values()
    assert group["Properties"]["ModelPackageGroupName"] == config.names.model_package_group
    assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Retain"


def test_registry_approval_status_is_validated():
    from infra.config import RegistryConfig

    assert RegistryConfig().approval_status == "Approved"
    assert RegistryConfig("PendingManualApproval").approval_status == "PendingManualApproval"
    with pytest.raises(ValueError, match="approval_status"):
        RegistryConfig("Rejected")


def test_endpoint_serves_the_chosen_artifact_with_health_check_timeout(endpoint, of_type, config):
    (model,) = of_type(endpoint, "AWS::SageMaker::Model").values()
    container = model["Properties"]["PrimaryContainer"]
    assert container["ModelDataUrl"] == config.endpoint.model_data_url
    assert container["Image"] == config.image.uri
    assert model["Properties"]["EnableNetworkIsolation"] is True
    (endpoint_config,) = of_type(endpoint, "AWS::SageMaker::EndpointConfig").values()
    (variant,) = endpoint_config["Properties"]["ProductionVariants"]
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == (
        config.endpoint.startup_health_check_timeout_seconds
    )
    assert variant["InstanceType"] == config.endpoint.instance_type
    assert "KmsKeyId" in endpoint_config["Properties"]
    (resource,) = of_type(endpoint, "AWS::SageMaker::Endpoint").values()
    assert resource["Properties"]["EndpointName"] == config.names.endpoint


def test_endpoint_scales_on_invocations_per_instance(endpoint, of_type, config):
    (target,) = of_type(endpoint, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert (
        target["Properties"]["ResourceId"] == f"endpoint/{config.names.endpoint}/variant/AllTraffic"
    )
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (
        config.endpoint.min_capacity,
        config.endpoint.max_capacity,
    )
    (policy,) = of_type(endpoint, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    tracking = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert tracking["TargetValue"] == config.endpoint.target_invocations_per_instance
