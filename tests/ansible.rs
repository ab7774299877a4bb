//! Ansible roles as kubespray has them: templates rendered with the role's
//! defaults, its dependencies' and the inventory's, findings at the template
//! line with the line that sets the value, split by the host facts a value
//! depends on; templates outside a role linted as written.

mod common;

use std::path::Path;

use common::{findings, json, related, rules_paths_and_lines, scar, scar_in, write};

const BEFORE_OOM_FIX: &str = "testdata/ansible/kubespray-17f9242b";

#[test]
fn kubespray_before_enable_oom_killing_caps_etcd_at_512m_on_small_hosts_with_the_defaults_line() {
    let config = format!("{BEFORE_OOM_FIX}/.scar.yaml");
    let doc = json(&scar(&[
        "lint",
        "--format",
        "json",
        "--config",
        &config,
        BEFORE_OOM_FIX,
    ]));
    let template = format!("{BEFORE_OOM_FIX}/roles/etcd/templates/etcd.j2");
    let defaults = format!("{BEFORE_OOM_FIX}/roles/etcd/defaults/main.yml");
    assert_eq!(
        rules_paths_and_lines(&doc),
        vec![
            ("etcd-memory-too-low".to_string(), template.clone(), 10),
            ("oom-kill-disabled".to_string(), template.clone(), 12),
        ],
        "{doc:#}"
    );
    let condition = format!("on hosts where ansible_memtotal_mb < 4096 ({defaults}:29)");
    for finding in findings(&doc) {
        let message = finding["message"].as_str().unwrap();
        assert!(message.contains(&condition), "{message}");
        assert!(
            related(finding).contains(&(defaults.clone(), 29)),
            "{finding:#}"
        );
        assert_eq!(finding["unit"]["kind"], "ansible");
        assert_eq!(
            finding["unit"]["values"],
            "on hosts where ansible_memtotal_mb < 4096"
        );
    }
    let memory = &findings(&doc)[0];
    assert!(
        memory["message"].as_str().unwrap().contains("512M"),
        "{memory:#}"
    );
}

#[test]
fn a_later_kubespray_etcd_role_renders_without_a_finding_or_a_parse_error() {
    let doc = json(&scar(&[
        "lint",
        "--format",
        "json",
        "testdata/ansible/kubespray-later",
    ]));
    assert_eq!(rules_paths_and_lines(&doc), Vec::new(), "{doc:#}");
    let skipped = doc["summary"]["skipped"].as_array().unwrap();
    assert!(skipped.is_empty(), "{skipped:#?}");
}

const APPS: &str = "testdata/ansible/kubespray-apps";

fn lint_apps_roles(dir: &Path) -> serde_json::Value {
    let config = dir.join(".scar.yaml");
    json(&scar(&[
        "lint",
        "--format",
        "json",
        "--config",
        config.to_str().unwrap(),
        dir.to_str().unwrap(),
    ]))
}

#[test]
fn kubespray_apps_give_dns_on_the_masters_and_single_backends_of_apis_and_webhooks() {
    let doc = lint_apps_roles(Path::new(APPS));
    let templates = format!("{APPS}/roles/kubernetes-apps");
    // Incident 7: DNS allowed onto the control plane. The CoreDNS Deployment
    // sets no replicas; the role's dns-autoscaler sets them from the
    // cluster's size. metrics-server serves an aggregated API from one Pod.
    // MetalLB's fail-closed webhooks call its one controller, and
    // cert-manager's its one webhook Pod (scoped to cert-manager's own
    // resources: no webhook-unscoped); their selectors, tolerations and
    // affinities render through `to_nice_yaml(indent=2) | indent(width=8)`.
    // cert-manager's metrics Service is for its ServiceMonitor, not users.
    // NodeLocal DNSCache runs on every node by design, and netchecker's etcd
    // is its own store on loopback, not the cluster's: both stay silent.
    assert_eq!(
        rules_paths_and_lines(&doc),
        vec![
            (
                "dns-schedulable-on-control-plane".to_string(),
                format!("{templates}/ansible/templates/coredns-deployment.yml.j2"),
                32
            ),
            (
                "webhook-single-replica".to_string(),
                format!(
                    "{templates}/ingress_controller/cert_manager/templates/cert-manager.yml.j2"
                ),
                311
            ),
            (
                "webhook-single-replica".to_string(),
                format!("{templates}/metallb/templates/metallb-native.yml.j2"),
                225
            ),
            (
                "apiservice-single-replica".to_string(),
                format!("{templates}/metrics_server/templates/metrics-apiservice.yaml.j2"),
                4
            ),
        ],
        "{doc:#}"
    );
    assert_eq!(doc["summary"]["resources"], 19, "{doc:#}");
    let skipped = doc["summary"]["skipped"].as_array().unwrap();
    assert!(skipped.is_empty(), "{skipped:#?}");

    let without_autoscaler = tempfile::tempdir().unwrap();
    common::copy_dir(Path::new(APPS), without_autoscaler.path());
    std::fs::remove_file(
        without_autoscaler
            .path()
            .join("roles/kubernetes-apps/ansible/templates/dns-autoscaler.yml.j2"),
    )
    .unwrap();
    let rules: Vec<String> = rules_paths_and_lines(&lint_apps_roles(without_autoscaler.path()))
        .into_iter()
        .map(|(rule, _, _)| rule)
        .collect();
    assert_eq!(
        rules,
        [
            "dns-single-replica",
            "dns-schedulable-on-control-plane",
            "webhook-single-replica",
            "webhook-single-replica",
            "apiservice-single-replica"
        ]
    );
}

#[test]
fn kubespray_units_give_up_restarting_docker_and_cri_dockerd_and_leave_the_kubelet_alone() {
    let doc = json(&scar(&[
        "lint",
        "--format",
        "json",
        "testdata/ansible/kubespray-units",
    ]));
    // docker: Restart=on-failure every 100 ms, 3 starts in 60 s;
    // cri-dockerd: Restart=always every 2 s, 3 starts in 60 s. A crash loop
    // leaves either down. cri-dockerd's TimeoutSec=0 never ends a hung
    // start (an info). The kubelet's unit restarts every 10 s.
    let engines = "testdata/ansible/kubespray-units/roles/container-engine";
    assert_eq!(
        rules_paths_and_lines(&doc),
        vec![
            (
                "unit-start-timeout-infinite".to_string(),
                format!("{engines}/cri-dockerd/templates/cri-dockerd.service.j2"),
                13
            ),
            (
                "unit-start-limit-defeats-restart".to_string(),
                format!("{engines}/cri-dockerd/templates/cri-dockerd.service.j2"),
                15
            ),
            (
                "unit-start-limit-defeats-restart".to_string(),
                format!("{engines}/docker/templates/docker.service.j2"),
                40
            ),
        ],
        "{doc:#}"
    );
    let skipped = doc["summary"]["skipped"].as_array().unwrap();
    assert!(skipped.is_empty(), "{skipped:#?}");
}

/// The same docker run of etcd, in a role whose defaults set its memory
/// and as a lone template nobody gives values to.
fn role_and_lone_template(dir: &Path) {
    let script = "#!/bin/bash\n{# the wrapper #}\n/usr/bin/docker run \\\n  --memory={{ etcd_memory }} \\\n  --oom-kill-disable \\\n  quay.io/coreos/etcd:v3.2.4\n";
    write(
        dir,
        "roles/etcd/tasks/main.yml",
        "- template: {src: etcd.j2, dest: /usr/local/bin/etcd}\n",
    );
    write(
        dir,
        "roles/etcd/defaults/main.yml",
        "---\netcd_memory: 512M\n",
    );
    write(dir, "roles/etcd/templates/etcd.j2", script);
    write(dir, "scripts/etcd.sh.j2", script);
}

/// What the role's template gives with 512M: both findings, at its lines.
fn both_in_the_role() -> Vec<(String, String, u64)> {
    ["etcd-memory-too-low", "oom-kill-disabled"]
        .iter()
        .zip([4, 5])
        .map(|(rule, line)| {
            (
                rule.to_string(),
                "roles/etcd/templates/etcd.j2".to_string(),
                line,
            )
        })
        .collect()
}

#[test]
fn a_role_gives_its_template_values_a_lone_template_keeps_them_unknown() {
    let dir = tempfile::tempdir().unwrap();
    role_and_lone_template(dir.path());
    let doc = json(&scar_in(dir.path(), &["lint", "--format", "json", "."]));
    let mut expected = both_in_the_role();
    expected.push((
        "oom-kill-disabled".to_string(),
        "scripts/etcd.sh.j2".to_string(),
        5,
    ));
    assert_eq!(rules_paths_and_lines(&doc), expected, "{doc:#}");
    let memory = &findings(&doc)[0];
    assert_eq!(
        related(memory),
        vec![("roles/etcd/defaults/main.yml".to_string(), 2)]
    );
    // Every host gets the same text: no condition is named.
    assert!(memory["unit"]["values"].is_null(), "{memory:#}");
    assert_eq!(memory["rendered"]["text"], "--memory=512M \\");
}

#[test]
fn a_suppression_comment_in_a_role_template_holds_for_its_renders() {
    let dir = tempfile::tempdir().unwrap();
    role_and_lone_template(dir.path());
    write(
        dir.path(),
        "roles/etcd/templates/etcd.j2",
        "#!/bin/bash\n# scar:ignore oom-kill-disabled -- etcd is sized for the cluster\n/usr/bin/docker run --memory={{ etcd_memory }} --oom-kill-disable quay.io/coreos/etcd:v3.2.4\n",
    );
    let doc = json(&scar_in(dir.path(), &["lint", "--format", "json", "roles"]));
    assert_eq!(
        rules_paths_and_lines(&doc),
        vec![(
            "etcd-memory-too-low".to_string(),
            "roles/etcd/templates/etcd.j2".to_string(),
            3
        )],
        "{doc:#}"
    );
    assert_eq!(doc["summary"]["suppressed"], 1);
}

#[test]
fn a_manifest_template_renders_with_the_role_values_or_stays_a_template_with_unknowns() {
    let dir = tempfile::tempdir().unwrap();
    let deployment = |replicas: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n"
        )
    };
    write(dir.path(), "roles/web/tasks/main.yml", "- debug: {}\n");
    write(
        dir.path(),
        "roles/web/defaults/main.yml",
        "web_replicas: 3\n",
    );
    write(
        dir.path(),
        "roles/web/templates/known.yaml.j2",
        &deployment("{{ web_replicas }}"),
    );
    write(
        dir.path(),
        "roles/web/templates/unknown.yaml.j2",
        &deployment("{{ ansible_processor_vcpus }}"),
    );
    let doc = json(&scar_in(dir.path(), &["lint", "--format", "json", "."]));
    let rules: Vec<(String, String, u64)> = rules_paths_and_lines(&doc);
    assert!(
        rules.contains(&(
            "no-pod-anti-affinity".to_string(),
            "roles/web/templates/known.yaml.j2".to_string(),
            6
        )),
        "{doc:#}"
    );
    assert!(
        rules
            .iter()
            .all(|(_, path, _)| !path.ends_with("unknown.yaml.j2")),
        "{doc:#}"
    );
    let skipped = doc["summary"]["skipped"].as_array().unwrap();
    assert!(
        skipped.iter().any(
            |s| s["path"] == "roles/web/templates/unknown.yaml.j2" && s["reason"] == "template"
        ),
        "{skipped:#?}"
    );
}

#[test]
fn a_group_s_own_variables_render_for_its_hosts_and_name_the_group() {
    let dir = tempfile::tempdir().unwrap();
    role_and_lone_template(dir.path());
    write(
        dir.path(),
        "roles/etcd/defaults/main.yml",
        "---\netcd_memory: 2G\n",
    );
    write(
        dir.path(),
        "inventory/group_vars/etcd.yml",
        "# small etcd hosts\netcd_memory: 512M\n",
    );
    write(
        dir.path(),
        ".scar.yaml",
        "ansible:\n  inventories: [inventory]\n",
    );
    let doc = json(&scar_in(dir.path(), &["lint", "--format", "json", "roles"]));
    assert_eq!(rules_paths_and_lines(&doc), both_in_the_role(), "{doc:#}");
    let memory = &findings(&doc)[0];
    assert!(
        memory["message"]
            .as_str()
            .unwrap()
            .ends_with("; on hosts where 'etcd' in group_names (inventory/group_vars/etcd.yml:1)"),
        "{memory:#}"
    );
    assert!(related(memory).contains(&("inventory/group_vars/etcd.yml".to_string(), 2)));
    // Every host's docker run disables the OOM killer: no condition.
    let oom = &findings(&doc)[1];
    assert!(oom["unit"]["values"].is_null(), "{oom:#}");
}

#[test]
fn a_hook_passing_only_the_changed_defaults_lints_the_role_s_templates() {
    let dir = tempfile::tempdir().unwrap();
    role_and_lone_template(dir.path());
    let doc = json(&scar_in(
        dir.path(),
        &["lint", "--format", "json", "roles/etcd/defaults/main.yml"],
    ));
    assert_eq!(rules_paths_and_lines(&doc), both_in_the_role(), "{doc:#}");
    // A change to a task touches no template's values.
    let doc = json(&scar_in(
        dir.path(),
        &["lint", "--format", "json", "roles/etcd/tasks/main.yml"],
    ));
    assert_eq!(rules_paths_and_lines(&doc), Vec::new(), "{doc:#}");
}
