//! The `matrixha` command line: plan, check and operate a deployment.

use clap::Parser;
use matrixha::check::{self, Level};
use matrixha::cli::{Command, Format, HostsPart, Opts};
use matrixha::error::{read_file, CliError, Result};
use matrixha::exit_codes::ExitCode;
use matrixha::{config, hosts, init, ipplan, mdad, secrets};
use std::io::Write;

fn main() -> std::process::ExitCode {
    match run(Opts::parse()) {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("matrixha: {e}");
            ExitCode::Error.into()
        }
    }
}

fn json(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string_pretty(v)
        .map_err(|e| CliError::new(format!("cannot encode JSON: {e}"), ""))
}

fn out(text: &str) {
    let _ = std::io::stdout().write_all(text.as_bytes());
}

fn run(opts: Opts) -> Result<ExitCode> {
    match opts.command {
        Command::Init {
            scale,
            domain,
            ip_plan,
            out: dir,
            force,
            format,
        } => {
            let plan = ipplan::load(&ip_plan)?;
            let layout = ipplan::layout(&plan, scale, domain.as_deref())?;
            let files = init::render(&layout)?;
            init::write(&dir, &files, force)?;
            // What the operator still has to supply (placeholders, the vault) is
            // expected here; anything else means the IP plan itself cannot work.
            let man = config::manifest(None)?;
            let inv = config::inventory(&dir, None, None)?;
            let plan_errors: Vec<check::Finding> = check::check(&inv, &man)
                .into_iter()
                .filter(|f| f.level == Level::Error && !matches!(f.rule, "placeholder" | "secrets"))
                .collect();
            for f in &plan_errors {
                eprintln!("{}", f.render());
            }
            if !plan_errors.is_empty() {
                eprintln!(
                    "matrixha: the inventory was written, but the IP plan has {} problem(s) above; fix the plan and run init --force again",
                    plan_errors.len()
                );
                return Ok(ExitCode::Problems);
            }
            match format {
                Format::Text => {
                    for (rel, _) in &files {
                        out(&format!("wrote {}\n", dir.join(rel).display()));
                    }
                    out(&format!(
                        "next: matrixha secrets --out {} ; replace the CHANGE_… values ; matrixha check -i {}\n",
                        dir.join("group_vars/all/vault.yml").display(),
                        dir.display()
                    ));
                }
                Format::Json => {
                    let pool = init::pool_plan(&layout)?;
                    let v = serde_json::json!({
                        "inventory": dir,
                        "files": files.iter().map(|(r, _)| r).collect::<Vec<_>>(),
                        "scale": scale.as_str(),
                        "synapse_processes": init::synapse_processes(&layout),
                        "pool": pool,
                    });
                    out(&(json(&v)? + "\n"));
                }
            }
            Ok(ExitCode::Success)
        }
        Command::Check {
            inventory,
            mdad_vars,
            manifest,
            vault_password_file,
            ansible_vault,
            format,
        } => {
            let man = config::manifest(manifest.as_deref())?;
            let inv = config::inventory(
                &inventory,
                vault_password_file.as_deref(),
                ansible_vault.as_deref(),
            )?;
            let mut findings = check::check(&inv, &man);
            let extra = mdad_vars.or_else(|| {
                let p = inventory.join("mdad-vars.yml");
                p.is_file().then_some(p)
            });
            if let Some(p) = extra {
                let text = read_file(&p)?;
                let m: serde_yaml::Mapping = serde_yaml::from_str(&text).map_err(|e| {
                    CliError::new(
                        format!(
                            "{}: not valid YAML: {}",
                            p.display(),
                            matrixha::typed::yaml_error(&e)
                        ),
                        "fix the syntax",
                    )
                })?;
                check::check_mdad_file(&mut findings, &man, &p.display().to_string(), &m);
            }
            let errors = findings.iter().filter(|f| f.level == Level::Error).count();
            let warnings = findings.len() - errors;
            match format {
                Format::Json => out(&(json(
                    &serde_json::json!({"errors": errors, "warnings": warnings, "findings": findings}),
                )? + "\n")),
                Format::Text => {
                    for f in &findings {
                        out(&(f.render() + "\n"));
                    }
                    out(&format!(
                        "{errors} error(s), {warnings} warning(s) in {}\n",
                        inventory.display()
                    ));
                }
            }
            Ok(if errors == 0 {
                ExitCode::Success
            } else {
                ExitCode::Problems
            })
        }
        Command::Secrets {
            out: file,
            plaintext,
            force,
            vault_password_file,
            vault_id,
            ansible_vault,
            format,
        } => {
            let names = secrets::write(&secrets::Options {
                out: &file,
                plaintext,
                force,
                ansible_vault: ansible_vault.as_deref(),
                vault_password_file: vault_password_file.as_deref(),
                vault_id: vault_id.as_deref(),
            })?;
            match format {
                Format::Json => out(&(json(
                    &serde_json::json!({"file": file, "encrypted": !plaintext, "names": names}),
                )? + "\n")),
                Format::Text => out(&format!(
                    "wrote {} secret(s) to {} ({})\n",
                    names.len(),
                    file.display(),
                    if plaintext {
                        "PLAINTEXT: encrypt it with ansible-vault encrypt"
                    } else {
                        "Ansible Vault"
                    }
                )),
            }
            Ok(ExitCode::Success)
        }
        Command::Hosts {
            inventory,
            only,
            format,
        } => {
            let inv = config::inventory(&inventory, None, None)?;
            let n = hosts::names(&inv)?;
            match format {
                Format::Json => out(&(json(&n)? + "\n")),
                Format::Text => {
                    if only != Some(HostsPart::Zone) {
                        out(&hosts::render_hosts(&n));
                    }
                    if only.is_none() {
                        out("\n");
                    }
                    if only != Some(HostsPart::EtcHosts) {
                        out(&hosts::render_zone(&n));
                    }
                }
            }
            Ok(ExitCode::Success)
        }
        Command::MdadVars {
            inventory,
            out: file,
            manifest,
        } => {
            let man = config::manifest(manifest.as_deref())?;
            let inv = config::inventory(&inventory, None, None)?;
            let host = mdad::synapse_host(&inv)?;
            let vars = mdad::generate(&inv, &man)?;
            let bad = mdad::invalid(vars.iter().map(|(_, k, _)| k.as_str()), &man);
            if !bad.is_empty() {
                for (k, v) in &bad {
                    eprintln!("matrixha: {k}: {v:?}");
                }
                return Err(CliError::new(
                    format!(
                        "{} MDAD variable(s) are not settable in the manifest; nothing written",
                        bad.len()
                    ),
                    "run `matrixha check` for each one's fix",
                ));
            }
            let text = mdad::render(&vars, &host, &man);
            match file {
                Some(f) => {
                    std::fs::write(&f, text).map_err(|e| {
                        CliError::new(format!("cannot write {}: {e}", f.display()), "")
                    })?;
                    eprintln!("wrote {} MDAD variables to {}", vars.len(), f.display());
                }
                None => out(&text),
            }
            Ok(ExitCode::Success)
        }
    }
}
