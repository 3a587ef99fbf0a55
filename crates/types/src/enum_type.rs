//! Enum types (`CREATE TYPE ... AS ENUM`): a type's labels with their sort
//! order, as `pg_type` and `pg_enum` hold them.
//!
//! A column or expression of an enum type has type `DataType::Enum`, which
//! shares the type's [`EnumType`]; its values are `Value::Enum(sort_order,
//! label)`, self-contained so rows decode and compare without the catalog.
//! Sort orders never change once given (a label added between two others
//! takes the midpoint, as PostgreSQL's `AddEnumLabel` does), so rows and index
//! keys written before an `ALTER TYPE ... ADD VALUE` keep their order.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::Value;

/// One label of an enum type (a `pg_enum` row).
#[derive(Clone, Debug, PartialEq)]
pub struct EnumLabel {
    /// The `pg_enum` row's OID.
    pub oid: u32,
    pub sort_order: f32,
    pub name: String,
}

/// An enum type (its `pg_type` row and, in sort order, its `pg_enum` rows).
#[derive(Clone, Debug)]
pub struct EnumType {
    pub oid: u32,
    /// The OID of its array type (`_name`).
    pub array_oid: u32,
    /// The schema it lives in (`public` unless CREATE TYPE named another).
    pub schema: String,
    pub name: String,
    pub owner: u32,
    /// Ordered by `sort_order`.
    pub labels: Vec<EnumLabel>,
}

/// Two enum types are the same type when their OIDs are equal (a type's
/// label list grows, its identity does not change).
impl PartialEq for EnumType {
    fn eq(&self, other: &Self) -> bool {
        self.oid == other.oid
    }
}
impl Eq for EnumType {}
impl Hash for EnumType {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.oid.hash(state)
    }
}

impl EnumType {
    /// The type's name as `format_type` prints it under the default
    /// `search_path`: schema-qualified outside `public`, quoted as needed.
    pub fn display_name(&self) -> String {
        let name = crate::ident::quote_identifier(&self.name);
        match self.schema.as_str() {
            "public" => name,
            s => format!("{}.{name}", crate::ident::quote_identifier(s)),
        }
    }

    pub fn label(&self, name: &str) -> Option<&EnumLabel> {
        self.labels.iter().find(|l| l.name == name)
    }

    /// The value of label `name`, if the type has it.
    pub fn value(&self, name: &str) -> Option<Value> {
        self.label(name).map(label_value)
    }

    /// Every label's value, in sort order (`enum_range`).
    pub fn values(&self) -> impl Iterator<Item = Value> + '_ {
        self.labels.iter().map(label_value)
    }
}

fn label_value(l: &EnumLabel) -> Value {
    Value::Enum(l.sort_order, Arc::from(l.name.as_str()))
}
