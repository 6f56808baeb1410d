//! The fake member answers as each misbehaviour promises (checked with the real client).

use std::time::Duration;

use patroni_test_harness::{FakeMember, Misbehaviour};

#[tokio::test]
async fn each_misbehaviour_reaches_the_client_as_promised() {
    let fake = FakeMember::start("fake", Misbehaviour::Healthy);
    for how in Misbehaviour::ALL {
        fake.set(how);
        let got =
            patroni_rest_client::get_json(&fake.api_url(), Duration::from_millis(1500), None).await;
        let valid_json = matches!(
            how,
            Misbehaviour::Healthy
                | Misbehaviour::WrongTypes
                | Misbehaviour::HugeNumbers
                | Misbehaviour::NegativeLsns
        );
        assert_eq!(got.is_ok(), valid_json, "{how:?}: {got:?}");
    }
    assert_eq!(fake.requests(), Misbehaviour::ALL.len());
    let value: serde_json::Value = serde_json::from_str(&fake.member_value()).expect("JSON");
    assert_eq!(value["api_url"], fake.api_url());
}
