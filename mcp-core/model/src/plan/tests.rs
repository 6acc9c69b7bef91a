//! The planner on hand-built states.

use super::*;

fn desired(name: &str) -> DesiredContainer {
    DesiredContainer {
        service: name.into(),
        component: "api".into(),
        container: name.into(),
        image: "reg/x:v1.0.0".into(),
        spec_hash: Some(SpecHash::digest(b"h1")),
        run: true,
        flapping: false,
    }
}

fn observed(name: &str, state: ContainerState) -> ObservedContainer {
    ObservedContainer {
        name: name.into(),
        image: "reg/x:v1.0.0".into(),
        state,
        spec_hash: Some(SpecHash::digest(b"h1")),
        service: Some(name.to_owned()),
        component: Some("api".to_owned()),
    }
}

/// A container carrying none of MCP's labels.
fn unlabelled(name: &str) -> ObservedContainer {
    ObservedContainer {
        spec_hash: None,
        service: None,
        component: None,
        ..observed(name, ContainerState::Running)
    }
}

fn kinds(actions: &[Action]) -> Vec<(ActionKind, &str)> {
    actions
        .iter()
        .map(|a| (a.kind, a.container.as_str()))
        .collect()
}

#[test]
fn in_sync_means_nothing_to_do() {
    let d = vec![desired("a"), desired("b")];
    let o = vec![
        observed("a", ContainerState::Running),
        observed("b", ContainerState::Running),
    ];
    assert!(plan(&d, &o).is_empty());
}

#[test]
fn each_kind_of_drift_gets_its_action_in_order() {
    let mut stopped_service = desired("s");
    stopped_service.run = false;
    let mut flapping = desired("f");
    flapping.flapping = true;
    let mut adopted = desired("adopted");
    adopted.spec_hash = None;
    let d = vec![
        desired("missing"),
        desired("exited"),
        desired("image"),
        desired("spec"),
        stopped_service,
        flapping,
        adopted,
    ];
    let mut image = observed("image", ContainerState::Running);
    image.image = "reg/x:v0.9.0".into();
    image.spec_hash = Some(SpecHash::digest(b"h0"));
    let mut spec = observed("spec", ContainerState::Running);
    spec.spec_hash = Some(SpecHash::digest(b"old"));
    let adopted_o = unlabelled("adopted");
    let unknown = unlabelled("mystery");
    let o = vec![
        observed("exited", ContainerState::Exited),
        image,
        spec,
        observed("s", ContainerState::Running),
        observed("f", ContainerState::Running),
        adopted_o,
        observed("orphan", ContainerState::Exited),
        unknown,
    ];
    let actions = plan(&d, &o);
    assert_eq!(
        kinds(&actions),
        [
            (ActionKind::Stop, "s"),
            (ActionKind::Remove, "f"),
            (ActionKind::Remove, "orphan"),
            (ActionKind::Replace, "image"),
            (ActionKind::Replace, "spec"),
            (ActionKind::Create, "missing"),
            (ActionKind::Start, "exited"),
            (ActionKind::Report, "mystery"),
        ]
    );
    assert_eq!(
        actions[3].reason,
        Reason::WrongImage {
            want: "reg/x:v1.0.0".into(),
            have: "reg/x:v0.9.0".into()
        }
    );
    assert_eq!(
        actions[6].reason,
        Reason::StoppedButActive {
            state: "exited".into()
        }
    );
    assert_eq!(
        actions[2].reason.to_string(),
        "container is managed by this agent but not in the registry"
    );
}

#[test]
fn stopped_or_flapping_components_are_not_recreated() {
    let mut s = desired("s");
    s.run = false;
    let mut f = desired("f");
    f.flapping = true;
    assert!(plan(&[s, f], &[]).is_empty());
}
