//! This repository's functions against terraform/iam/policies.json, both
//! ways: what fails here is a role that would refuse a call the code makes,
//! or grant one it never makes.

use std::path::Path;

#[test]
fn every_function_policy_grants_exactly_the_sdk_calls_of_its_source() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let report = iam_audit::audit(&root).unwrap_or_else(|e| panic!("iam-audit: {e}"));
    let text = report.render();
    assert!(report.ok(), "{text}");
    // The scan sees the calls it must: a regression here means the scanner
    // went blind, not that the policy is right.
    let users = report
        .functions
        .iter()
        .find(|f| f.function == "users")
        .unwrap_or_else(|| panic!("no users function in\n{text}"));
    assert!(users.required.contains_key("dynamodb:Scan"), "{text}");
    assert!(users.required.contains_key("dynamodb:PutItem"), "{text}");
    let auth = report
        .functions
        .iter()
        .find(|f| f.function == "auth")
        .unwrap_or_else(|| panic!("no auth function in\n{text}"));
    assert!(
        auth.required.contains_key("secretsmanager:GetSecretValue"),
        "{text}"
    );
    assert!(
        auth.unsigned.contains_key("cognito-idp:InitiateAuth"),
        "{text}"
    );
}

#[test]
fn a_policy_granting_an_uncalled_action_or_lacking_a_called_one_fails() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut policies = iam_audit::policy::Policies::read(&root.join(iam_audit::policy::FILE))
        .unwrap_or_else(|e| panic!("{e}"));
    // What the users role allowed before it was derived from the code.
    let users = policies
        .functions
        .get_mut("users")
        .unwrap_or_else(|| panic!("no users statements"));
    users[0].actions.retain(|a| a != "dynamodb:Scan");
    users[0].actions.push("dynamodb:Query".to_owned());
    users[1]
        .actions
        .push("dynamodb:ConditionCheckItem".to_owned());
    let report = iam_audit::audit_with(&root, &policies).unwrap_or_else(|e| panic!("{e}"));
    assert!(!report.ok());
    let users = report
        .functions
        .iter()
        .find(|f| f.function == "users")
        .unwrap_or_else(|| panic!("no users audit"));
    assert_eq!(users.missing, ["dynamodb:Scan"]);
    assert_eq!(
        users.unused,
        ["dynamodb:ConditionCheckItem", "dynamodb:Query"]
    );
    let text = report.render();
    assert!(
        text.contains("dynamodb:Scan                        MISSING"),
        "{text}"
    );
    assert!(text.contains("1 do not"), "{text}");
}
