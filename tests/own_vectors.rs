//! crumb's own vectors (tests/data/crumb_vectors.json): fixed inputs and the exact tokens crumb
//! wrote for them, so an accidental change to the wire format or the chain shows up here. See
//! tests/data/README.md for how they were made; `CRUMB_WRITE_VECTORS=1` rewrites them.

use crumb::token::wire::{self, Format};
use crumb::{Context, Keyring, Macaroon, RootKey, Verifier};
use serde_json::{json, Value};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/crumb_vectors.json");

/// The cases: (name, root key, identifier, location, first-party caveats, third-party caveat).
fn cases() -> Vec<Value> {
    vec![
        json!({ "name": "no-caveats", "key": "crumb vector key", "id": "crumb vector 1", "location": null, "caveats": [] }),
        json!({ "name": "typed-caveats", "key": "crumb vector key", "id": "crumb vector 2",
                "location": "https://crumb.example", "caveats": ["action in read,write", "resource prefix /apps/42",
                "expires < 2030-01-01T00:00:00Z", "ip in 10.0.0.0/8", "max-cost <= 5", "balance <= 100", "tenant = acme"] }),
        json!({ "name": "third-party", "key": "crumb vector key", "id": "crumb vector 3", "location": "https://crumb.example",
                "caveats": ["action = read"],
                "third_party": { "key": "idp caveat key", "id": "user = alice", "location": "https://idp.example",
                                 "nonce_hex": "000102030405060708090a0b0c0d0e0f1011121314151617",
                                 "discharge_caveats": ["expires < 2030-01-01T00:00:00Z"] } }),
    ]
}

fn build(case: &Value) -> (Macaroon, Option<Macaroon>) {
    let key = RootKey::from_bytes(case["key"].as_str().unwrap().as_bytes()).unwrap();
    let location = case["location"].as_str().map(str::to_owned);
    let mut m = Macaroon::mint(&key, case["id"].as_str().unwrap().to_owned(), location);
    for c in case["caveats"].as_array().unwrap() {
        m.add_first_party(c.as_str().unwrap().to_owned());
    }
    let tp = &case["third_party"];
    if tp.is_null() {
        return (m, None);
    }
    let caveat_key = RootKey::from_bytes(tp["key"].as_str().unwrap().as_bytes()).unwrap();
    let nonce: [u8; 24] = hex::decode(tp["nonce_hex"].as_str().unwrap()).unwrap().try_into().unwrap();
    let id = tp["id"].as_str().unwrap().to_owned();
    m.add_third_party(&caveat_key, id.clone(), tp["location"].as_str().map(str::to_owned), &nonce);
    let mut d = Macaroon::mint(&caveat_key, id, None);
    for c in tp["discharge_caveats"].as_array().unwrap() {
        d.add_first_party(c.as_str().unwrap().to_owned());
    }
    let bound = m.bind(&d);
    (m, Some(bound))
}

fn outputs(case: &Value) -> Value {
    let (m, bound) = build(case);
    json!({
        "v1": wire::encode(&m, Format::V1).unwrap(),
        "v2": wire::encode(&m, Format::V2).unwrap(),
        "json": wire::encode(&m, Format::Json).unwrap(),
        "signature_hex": hex::encode(m.signature),
        "bound_discharge_v2": bound.map(|b| wire::encode(&b, Format::V2).unwrap()),
    })
}

#[test]
fn crumb_still_writes_its_recorded_vectors() {
    if std::env::var_os("CRUMB_WRITE_VECTORS").is_some() {
        let doc: Vec<Value> =
            cases().into_iter().map(|c| json!({ "input": c.clone(), "output": outputs(&c) })).collect();
        std::fs::write(PATH, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    }
    let recorded: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(PATH).unwrap()).unwrap();
    assert_eq!(recorded.len(), cases().len());
    for v in &recorded {
        let name = v["input"]["name"].as_str().unwrap();
        assert_eq!(outputs(&v["input"]), v["output"], "{name}: crumb's output changed");
        // And every recorded token still verifies, with its discharge where it has one.
        let key = RootKey::from_bytes(v["input"]["key"].as_str().unwrap().as_bytes()).unwrap();
        let keys = Keyring::single(key);
        let exact: Vec<Vec<u8>> = v["input"]["caveats"]
            .as_array()
            .unwrap()
            .iter()
            .chain(v["input"]["third_party"]["discharge_caveats"].as_array().into_iter().flatten())
            .map(|c| c.as_str().unwrap().as_bytes().to_vec())
            .collect();
        let discharges: Vec<Macaroon> =
            v["output"]["bound_discharge_v2"].as_str().map(|d| wire::decode(d).unwrap()).into_iter().collect();
        for form in ["v1", "v2", "json"] {
            let token = wire::decode(v["output"][form].as_str().unwrap()).unwrap();
            let verdict = Verifier::new(&keys).with_exact(exact.clone()).only_exact(true).verify(
                token,
                discharges.clone(),
                &Context::now(),
            );
            assert!(verdict.is_ok(), "{name} {form}: {:?}", verdict.err().map(|r| r.denial().clone()));
        }
    }
}
