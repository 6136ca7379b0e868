//! The Kubernetes manifests agree with the config they ship: ports, probes, mounts, the
//! Secret files the config reads.

use serde_yaml::Value;

use crate::read;

fn manifest(name: &str) -> Value {
    serde_yaml::from_str(&read(&format!("deploy/kubernetes/{name}"))).expect(name)
}

fn port_of(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("numeric port, got {v:?}"))
}

/// The paths of every `${file:PATH}` in `text`.
fn file_refs(text: &str) -> Vec<&str> {
    text.split("${file:")
        .skip(1)
        .map(|rest| rest.split('}').next().expect("closed ${file:…}"))
        .collect()
}

#[test]
fn manifests_agree_with_the_config_they_ship() {
    let deployment = manifest("deployment.yaml");
    let service = manifest("service.yaml");
    let configmap = manifest("configmap.yaml");
    let secret = manifest("secret.yaml");
    let config_text = configmap["data"]["config.yaml"]
        .as_str()
        .expect("config.yaml");
    let config: Value = serde_yaml::from_str(config_text).expect("config YAML");

    let pod = &deployment["spec"]["template"];
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"], pod["metadata"]["labels"],
        "selector matches the pod"
    );
    assert_eq!(
        service["spec"]["selector"], pod["metadata"]["labels"],
        "service selects the pod"
    );
    let containers = pod["spec"]["containers"].as_sequence().expect("containers");
    assert_eq!(containers.len(), 1);
    let c = &containers[0];

    // Ports: listen = containerPort = probes = Service targetPort = scrape port.
    let listen = config["listen"].as_str().expect("listen");
    let (host, port) = listen.rsplit_once(':').expect("ip:port");
    assert_eq!(host, "0.0.0.0", "a pod listens on all interfaces");
    let port: u64 = port.parse().expect("port");
    assert_eq!(
        port_of(&c["ports"][0]["containerPort"]),
        port,
        "containerPort"
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/-/ready")
    );
    assert_eq!(
        c["livenessProbe"]["httpGet"]["path"].as_str(),
        Some("/-/healthy")
    );
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(port_of(&c[probe]["httpGet"]["port"]), port, "{probe} port");
    }
    assert_eq!(
        port_of(&service["spec"]["ports"][0]["targetPort"]),
        port,
        "targetPort"
    );
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"].as_str(), Some("true"));
    assert_eq!(
        annotations["prometheus.io/port"].as_str(),
        Some(port.to_string().as_str())
    );
    assert_eq!(annotations["prometheus.io/path"].as_str(), Some("/metrics"));

    // Mounts: volume name → (kind, object name), and mount path → volume name.
    let volumes = pod["spec"]["volumes"].as_sequence().expect("volumes");
    let mounts = c["volumeMounts"].as_sequence().expect("volumeMounts");
    let mount_of = |kind: &str, name_key: &str, object: &str| -> String {
        let volume = volumes
            .iter()
            .find(|v| v[kind][name_key].as_str() == Some(object))
            .unwrap_or_else(|| panic!("no volume for {kind} {object}"));
        let mount = mounts
            .iter()
            .find(|m| m["name"] == volume["name"])
            .unwrap_or_else(|| panic!("{kind} {object} not mounted"));
        // subPath mounts never see updates: hot reload would not follow.
        assert!(mount["subPath"].is_null(), "{object} mounted with subPath");
        mount["mountPath"].as_str().expect("mountPath").to_owned()
    };

    let config_dir = mount_of("configMap", "name", "alertgate-config");
    let args: Vec<&str> = c["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let config_arg = args
        .windows(2)
        .find(|w| w[0] == "--config")
        .map(|w| w[1])
        .expect("--config");
    assert_eq!(
        config_arg,
        format!("{config_dir}/config.yaml"),
        "--config is the mounted file"
    );
    assert!(
        !args.contains(&"--listen"),
        "the config's listen is the one that serves"
    );

    let mappings = mount_of("configMap", "name", "alertgate-mappings");
    assert_eq!(
        config["mappings_dir"].as_str(),
        Some(mappings.as_str()),
        "mappings_dir"
    );

    let secrets = mount_of("secret", "secretName", "alertgate-tokens");
    let refs = file_refs(config_text);
    assert!(refs.len() >= 3, "tokens come from files: {refs:?}");
    for path in refs {
        let (dir, key) = path.rsplit_once('/').expect("absolute path");
        assert_eq!(dir, secrets, "{path} is under the Secret's mount");
        assert!(
            !secret["stringData"][key].is_null(),
            "{key} is a key of the Secret"
        );
    }
    // The config names no token in clear.
    assert!(
        !config_text.contains("change-me"),
        "tokens only in the Secret"
    );
    assert_eq!(c["env"][0]["name"].as_str(), Some("ALERTGATE_REDIS_URL"));
    assert!(config_text.contains("${ALERTGATE_REDIS_URL}"));
}
