//! Evaluator regressions found by the differential kernel fuzzer (`kernel_fuzz`):
//! each a small scenario in `tests/regressions/`, named after what was wrong, its
//! header naming the seed that found it and the upstream code that decides. The same
//! scenarios run in the kernel in `kernel_nft.rs`.

mod common;

use polc::ir::Protocol;
use polc::semantics::{Engine, Packet};

/// The model of `tests/regressions/NAME.yaml`.
fn regression(name: &str) -> polc::ir::Model {
    let path = common::root()
        .join("tests/regressions")
        .join(format!("{name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap();
    common::model_of(&[(name, &text)])
}

fn allowed(engine: &Engine<'_>, from: &str, to: &str, port: u16) -> bool {
    let u = &engine.universe;
    let (f, t) = (
        u.resolve(engine.model, from).unwrap(),
        u.resolve(engine.model, to).unwrap(),
    );
    engine
        .evaluate(f, t, &Packet::to_port(Protocol::TCP, port))
        .allowed
}

#[test]
fn named_port_does_not_match_through_a_network_set() {
    let model = regression("named-port-through-network-set");
    let engine = Engine::new(&model);
    assert!(
        !allowed(&engine, "prod/client", "prod/web", 80),
        "the pod's `http` does not count: the selector selects only the network set"
    );
    assert!(
        allowed(&engine, "prod/client", "prod/web", 443),
        "a numeric port still matches through the network set"
    );
    assert!(
        allowed(&engine, "prod/client", "prod/other", 80),
        "a named port matches where the selector selects its endpoint"
    );
}

#[test]
fn host_endpoint_without_expected_ips_has_no_named_ports() {
    let model = regression("host-endpoint-named-port-without-expected-ips");
    let engine = Engine::new(&model);
    assert!(
        !allowed(&engine, "prod/c", "host/h1", 8080),
        "h1's `http` is in no IP set: it has no expected IPs"
    );
    assert!(
        allowed(&engine, "prod/c", "host/h2", 8080),
        "h2's `http` counts: its expected IP is in the set"
    );
}
