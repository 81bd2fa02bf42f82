//! Tables from `terraform/schema/dynamodb.json` (format: terraform/schema/README.md),
//! created in moto exactly as the Terraform module creates them in AWS.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use serde::Deserialize;

use crate::HarnessError;

/// A parsed schema file: logical table name to its definition.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    /// Format version; 1 is the only one.
    pub schema_version: u32,
    /// Logical name (`users`, `phone_claims`, ...) to definition, in name order.
    pub tables: BTreeMap<String, TableSchema>,
}

/// One table of the schema.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSchema {
    /// Partition key attribute.
    pub hash_key: String,
    /// Sort key attribute.
    pub range_key: Option<String>,
    /// Key and index attributes to their type (`S`, `N`, `B`).
    pub attributes: BTreeMap<String, String>,
    /// Global secondary indexes.
    pub global_secondary_indexes: Vec<IndexSchema>,
    /// Attribute holding the expiry epoch, when the table has a TTL.
    pub ttl_attribute: Option<String>,
    /// What the table's DynamoDB stream carries (`NEW_IMAGE`, `OLD_IMAGE`,
    /// `NEW_AND_OLD_IMAGES`, `KEYS_ONLY`); no stream when absent.
    #[serde(default)]
    pub stream_view_type: Option<String>,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexSchema {
    /// Index name.
    pub name: String,
    /// Partition key attribute.
    pub hash_key: String,
    /// Sort key attribute.
    pub range_key: Option<String>,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection_type: String,
}

impl Schema {
    /// Parses the text of a schema file.
    pub fn parse(json: &str) -> Result<Self, HarnessError> {
        let schema: Self = serde_json::from_str(json).map_err(|e| HarnessError::Schema {
            message: e.to_string(),
        })?;
        if schema.schema_version != 1 {
            return Err(HarnessError::Schema {
                message: format!(
                    "schema_version {} is not supported (expected 1)",
                    schema.schema_version
                ),
            });
        }
        Ok(schema)
    }

    /// The definition of `logical`.
    pub fn table(&self, logical: &str) -> Result<&TableSchema, HarnessError> {
        self.tables
            .get(logical)
            .ok_or_else(|| HarnessError::Schema {
                message: format!("no table {logical:?} in the schema"),
            })
    }
}

/// Creates table `name` as `schema_json` defines `logical` (keys, attribute
/// definitions, indexes, on-demand billing, then the TTL).
pub async fn create_table_from_schema(
    client: &Client,
    schema_json: &str,
    logical: &str,
    name: &str,
) -> Result<(), HarnessError> {
    let schema = Schema::parse(schema_json)?;
    create_table(client, schema.table(logical)?, name).await
}

/// Creates every table of `schema_json`, each named `<name_prefix><logical
/// name>`; returns the names created, in logical name order.
pub async fn create_tables_from_schema(
    client: &Client,
    schema_json: &str,
    name_prefix: &str,
) -> Result<Vec<String>, HarnessError> {
    let schema = Schema::parse(schema_json)?;
    let mut names = Vec::new();
    for (logical, table) in &schema.tables {
        let name = format!("{name_prefix}{logical}");
        create_table(client, table, &name).await?;
        names.push(name);
    }
    Ok(names)
}

/// Creates `name` from `table` (with its stream, when it has one).
pub async fn create_table(
    client: &Client,
    table: &TableSchema,
    name: &str,
) -> Result<(), HarnessError> {
    let failed = |message: String| HarnessError::CreateTable {
        table: name.to_owned(),
        message,
    };
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(
            key_schema(&table.hash_key, table.range_key.as_deref()).map_err(&failed)?,
        ));
    for (attribute, kind) in &table.attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::from(kind.as_str()))
                .build()
                .map_err(|e| failed(e.to_string()))?,
        );
    }
    for index in &table.global_secondary_indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&index.name)
                .set_key_schema(Some(
                    key_schema(&index.hash_key, index.range_key.as_deref()).map_err(&failed)?,
                ))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(index.projection_type.as_str()))
                        .build(),
                )
                .build()
                .map_err(|e| failed(e.to_string()))?,
        );
    }
    if let Some(view) = &table.stream_view_type {
        request = request.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view.as_str()))
                .build()
                .map_err(|e| failed(e.to_string()))?,
        );
    }
    request
        .send()
        .await
        .map_err(|e| failed(DisplayErrorContext(e).to_string()))?;
    if let Some(attribute) = &table.ttl_attribute {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(attribute)
                    .enabled(true)
                    .build()
                    .map_err(|e| failed(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| failed(DisplayErrorContext(e).to_string()))?;
    }
    Ok(())
}

fn key_schema(hash: &str, range: Option<&str>) -> Result<Vec<KeySchemaElement>, String> {
    let key = |attribute: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(attribute)
            .key_type(kind)
            .build()
            .map_err(|e| e.to_string())
    };
    let mut keys = vec![key(hash, KeyType::Hash)?];
    if let Some(range) = range {
        keys.push(key(range, KeyType::Range)?);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MotoServer;

    const SCHEMA: &str = include_str!("../../../terraform/schema/dynamodb.json");

    #[test]
    fn the_repository_schema_parses() {
        let schema = Schema::parse(SCHEMA).unwrap();
        let users = schema.table("users").unwrap();
        assert_eq!(users.hash_key, "user_id");
        assert_eq!(users.global_secondary_indexes[0].name, "phone-index");
    }

    #[test]
    fn unknown_tables_and_versions_are_schema_errors() {
        let schema = Schema::parse(SCHEMA).unwrap();
        assert!(matches!(
            schema.table("nope"),
            Err(HarnessError::Schema { .. })
        ));
        let err = Schema::parse(r#"{"schema_version": 2, "tables": {}}"#).unwrap_err();
        assert!(err.to_string().contains("schema_version 2"), "{err}");
    }

    #[tokio::test]
    async fn every_schema_table_is_created_with_its_keys_index_and_ttl() {
        let server = MotoServer::start().unwrap();
        let client = Client::new(&server.sdk_config().await);
        let names = create_tables_from_schema(&client, SCHEMA, "t-")
            .await
            .unwrap();
        assert_eq!(
            names,
            [
                "t-idempotency",
                "t-phone_claims",
                "t-sms_history",
                "t-users"
            ]
        );
        let mut listed = client
            .list_tables()
            .send()
            .await
            .unwrap()
            .table_names
            .unwrap();
        listed.sort();
        assert_eq!(listed, names);

        let users = client
            .describe_table()
            .table_name("t-users")
            .send()
            .await
            .unwrap();
        let users = users.table.unwrap();
        let index = &users.global_secondary_indexes.unwrap()[0];
        assert_eq!(index.index_name.as_deref(), Some("phone-index"));
        let history = client
            .describe_table()
            .table_name("t-sms_history")
            .send()
            .await
            .unwrap();
        let keys = history.table.unwrap().key_schema.unwrap();
        assert_eq!(keys[1].attribute_name, "ts");
        assert_eq!(keys[1].key_type, KeyType::Range);
        let ttl = client
            .describe_time_to_live()
            .table_name("t-sms_history")
            .send()
            .await
            .unwrap()
            .time_to_live_description
            .unwrap();
        assert_eq!(ttl.attribute_name.as_deref(), Some("expires_at"));

        let inbound = client
            .describe_table()
            .table_name("t-idempotency")
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        let stream = inbound.stream_specification.unwrap();
        assert!(stream.stream_enabled);
        assert_eq!(stream.stream_view_type, Some(StreamViewType::NewImage));
        assert!(inbound.latest_stream_arn.is_some());
        let history = client
            .describe_table()
            .table_name("t-sms_history")
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        assert!(
            !history
                .stream_specification
                .is_some_and(|s| s.stream_enabled),
            "a table without stream_view_type has no stream"
        );
    }
}
