//! `cargo bench -p scar-lint --bench role_speed`
//!
//! Ansible roles rendered in-process: K roles of 20 templates each (the
//! etcd wrapper script of `testdata/ansible/kubespray-17f9242b`, which a
//! host fact splits in two, and a later kubespray's etcd unit), with a
//! later kubespray's etcd defaults. Times a full `scar lint` of them as
//! roles, and of the same files with `tasks/` removed (templates outside a
//! role, linted as written), side by side, for K = 10, 40 and 160: the time
//! per template should stay flat as K grows. Medians of 5 rounds.

use std::fs;
use std::path::Path;

mod support;

use support::{median, ms, time};

use scar_lint::{lint, Input, Options, Registry};

const TEMPLATES_PER_ROLE: usize = 20;

fn main() {
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/ansible");
    let read = |path: &str| fs::read_to_string(testdata.join(path)).expect("the fixture exists");
    let script = read("kubespray-17f9242b/roles/etcd/templates/etcd.j2");
    let unit = read("kubespray-later/roles/etcd/templates/etcd-docker.service.j2");
    let defaults = read("kubespray-later/roles/etcd/defaults/main.yml");
    let registry = Registry::builtin();
    let options = Options::default();
    println!("roles  templates  as roles (ms)  as written (ms)  per template (ms)  ratio");
    for roles in [10, 40, 160] {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (as_roles, as_written) = (dir.path().join("roles"), dir.path().join("written"));
        for r in 0..roles {
            for (root, with_tasks) in [(&as_roles, true), (&as_written, false)] {
                let role = root.join(format!("role{r}"));
                let write = |name: &str, text: &str| {
                    let path = role.join(name);
                    fs::create_dir_all(path.parent().expect("a folder"))
                        .expect("can create a folder");
                    fs::write(path, text).expect("can write a file");
                };
                if with_tasks {
                    write("tasks/main.yml", "- debug: {}\n");
                }
                write("defaults/main.yml", &defaults);
                for t in 0..TEMPLATES_PER_ROLE / 2 {
                    write(&format!("templates/etcd{t}.j2"), &script);
                    write(&format!("templates/etcd{t}.service.j2"), &unit);
                }
            }
        }
        let run = |folder: &Path| {
            lint(&[Input::Path(folder.to_path_buf())], &options, &registry)
                .expect("the folder exists")
                .findings
                .len()
        };
        assert!(run(&as_roles) > run(&as_written), "the roles render");
        let (mut rendered, mut written) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            rendered.push(time(|| {
                run(&as_roles);
            }));
            written.push(time(|| {
                run(&as_written);
            }));
        }
        let (rendered, written) = (median(rendered), median(written));
        let templates = roles * TEMPLATES_PER_ROLE;
        println!(
            "{roles:>5}  {templates:>9}  {:>13.1}  {:>15.1}  {:>17.3}  {:>5.2}x",
            ms(rendered),
            ms(written),
            ms(rendered) / templates as f64,
            ms(rendered) / ms(written)
        );
    }
}
