//! `infra secrets keygen|encrypt|decrypt|edit|rekey`: age-encrypted JSON/YAML files. The
//! project's recipients (public keys) are listed in `.infra-recipients` at its root.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Args, Subcommand};
use runner::secrets::{self, SecretError};
use store::fsutil;

use crate::{ctx::Ctx, error::CliError, output::Output, runs::identity_path};

/// The file listing a project's recipients.
const RECIPIENTS: &str = ".infra-recipients";

/// Manage age-encrypted secrets files.
#[derive(Debug, Args)]
pub(crate) struct SecretsArgs {
    #[command(subcommand)]
    command: SecretsCommand,
}

#[derive(Debug, Subcommand)]
enum SecretsCommand {
    /// Create your age identity (mode 0600) and print its public key.
    Keygen {
        /// Replace an existing identity.
        #[arg(long)]
        force: bool,
    },
    /// Encrypt a JSON or YAML file to the project's recipients (writes FILE.age).
    Encrypt {
        file: PathBuf,
        /// Where to write (default: FILE.age).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Decrypt a secrets file to stdout.
    Decrypt { file: PathBuf },
    /// Decrypt into a private temporary file, open `$EDITOR`, re-encrypt.
    Edit { file: PathBuf },
    /// Re-encrypt files to the project's current recipients.
    Rekey { files: Vec<PathBuf> },
}

pub(crate) fn run(
    out: &mut Output,
    dir: Option<&Path>,
    args: &SecretsArgs,
) -> Result<ExitCode, CliError> {
    match &args.command {
        SecretsCommand::Keygen { force } => keygen(out, *force),
        SecretsCommand::Encrypt { file, output } => {
            let recipients = recipients(&Ctx::discover(dir)?)?;
            let plaintext = read(file)?;
            secrets::parse_document(&plaintext, &file.display().to_string())
                .map_err(secret_error)?;
            let ciphertext = secrets::encrypt(&plaintext, &recipients).map_err(secret_error)?;
            let target = output.clone().unwrap_or_else(|| with_age(file));
            write_atomic(&target, &ciphertext)?;
            out.status(&format!(
                "encrypted `{}` to `{}` ({}); the plaintext `{}` is still there: delete it \
                 (and keep it out of version control)",
                file.display(),
                target.display(),
                runner::count(recipients.len(), "recipient", "recipients"),
                file.display(),
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::Decrypt { file } => {
            let plaintext = decrypt(file)?;
            out.data(&String::from_utf8_lossy(&plaintext))?;
            Ok(ExitCode::SUCCESS)
        }
        SecretsCommand::Edit { file } => edit(out, &Ctx::discover(dir)?, file),
        SecretsCommand::Rekey { files } => {
            let recipients = recipients(&Ctx::discover(dir)?)?;
            for file in files {
                let plaintext = decrypt(file)?;
                let ciphertext = secrets::encrypt(&plaintext, &recipients).map_err(secret_error)?;
                write_atomic(file, &ciphertext)?;
                out.status(&format!(
                    "re-encrypted `{}` to {} recipients",
                    file.display(),
                    recipients.len()
                ))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn keygen(out: &mut Output, force: bool) -> Result<ExitCode, CliError> {
    let path = identity_path();
    if path.exists() && !force {
        return Err(CliError::user("infra::secrets::identity_exists", format!("`{}` already exists", path.display()))
            .with_hint("pass `--force` to replace it (files encrypted to the old key become unreadable to you)".into()));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        // A directory made here is private; an existing one is left as it is.
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        set_mode(parent, 0o700)?;
    }
    let (text, public) = secrets::generate_identity();
    // Created with 0600 from the start: the key is never readable by others, even briefly.
    fsutil::write_private(&path, text.as_bytes(), true).map_err(|e| io_error(&path, e))?;
    out.data(&format!("{public}\n"))?;
    out.status(&format!(
        "wrote your identity to `{}`; add the public key above to `{RECIPIENTS}`",
        path.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Decrypts into a private directory (0700, file 0600), runs the editor, refuses invalid
/// JSON/YAML, re-encrypts; the temporary is removed on every path out.
fn edit(out: &mut Output, ctx: &Ctx, file: &Path) -> Result<ExitCode, CliError> {
    let recipients = recipients(ctx)?;
    let plaintext = decrypt(file)?;
    let private = tempfile::Builder::new()
        .prefix("infra-secret-")
        .tempdir()
        .map_err(|e| io_error(Path::new("(temporary directory)"), e))?;
    set_mode(private.path(), 0o700)?;
    let stem = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = stem.strip_suffix(".age").unwrap_or(&stem).to_owned();
    let temp = private.path().join(if name.is_empty() { "secret".to_owned() } else { name });
    fsutil::write_private(&temp, &plaintext, false).map_err(|e| io_error(&temp, e))?;
    let editor = editor();
    let edited = runner::run_editor(&editor, &temp).map_err(|e| {
        CliError::user("infra::secrets::editor", format!("cannot run the editor `{editor}`: {e}"))
    });
    let result = match edited {
        Err(e) => Err(e),
        Ok(false) => Err(CliError::user(
            "infra::secrets::editor",
            format!("the editor `{editor}` failed; `{}` is unchanged", file.display()),
        )),
        Ok(true) => {
            let changed = std::fs::read(&temp).map_err(|e| io_error(&temp, e))?;
            if changed == plaintext {
                out.status(&format!("no changes; `{}` is unchanged", file.display()))?;
                Ok(ExitCode::SUCCESS)
            } else {
                match secrets::parse_document(&changed, &file.display().to_string()) {
                    Err(_) => Err(CliError::user(
                        "infra::secrets::not_a_document",
                        format!(
                            "the edited text is not valid JSON or YAML; `{}` is unchanged",
                            file.display()
                        ),
                    )),
                    Ok(_) => {
                        let ciphertext =
                            secrets::encrypt(&changed, &recipients).map_err(secret_error)?;
                        write_atomic(file, &ciphertext)?;
                        out.status(&format!("re-encrypted `{}`", file.display()))?;
                        Ok(ExitCode::SUCCESS)
                    }
                }
            }
        }
    };
    // Remove the plaintext before anything else can happen (TempDir's drop would too).
    let _ = std::fs::remove_file(&temp);
    drop(private);
    result
}

fn recipients(ctx: &Ctx) -> Result<Vec<secrets::Recipient>, CliError> {
    let path = ctx.root.join(RECIPIENTS);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        CliError::user("infra::secrets::no_recipients", format!("cannot read `{}`: {e}", path.display()))
            .with_hint(format!("list the public keys that may decrypt, one per line, in `{RECIPIENTS}` (`infra secrets keygen` prints yours)"))
    })?;
    secrets::parse_recipients(&text, RECIPIENTS).map_err(secret_error)
}

fn decrypt(file: &Path) -> Result<Vec<u8>, CliError> {
    let identities = secrets::load_identities(&identity_path()).map_err(secret_error)?;
    let ciphertext = read(file)?;
    secrets::decrypt(&ciphertext, &identities, &file.display().to_string()).map_err(secret_error)
}

fn read(file: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(file).map_err(|e| io_error(file, e))
}

fn with_age(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".age");
    PathBuf::from(name)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    fsutil::write_atomic(path, bytes, true).map_err(|e| io_error(path, e))
}

#[allow(clippy::disallowed_methods)]
fn editor() -> String {
    std::env::var("VISUAL")
        .ok()
        .filter(|e| !e.is_empty())
        .or_else(|| std::env::var("EDITOR").ok().filter(|e| !e.is_empty()))
        .unwrap_or_else(|| "vi".to_owned())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), CliError> {
    fsutil::set_mode(path, mode).map_err(|e| io_error(path, e))
}

fn io_error(path: &Path, e: std::io::Error) -> CliError {
    CliError::user("infra::secrets::io", format!("`{}`: {e}", path.display()))
}

fn secret_error(e: SecretError) -> CliError {
    let mut error = CliError::user(e.code, e.message);
    if let Some(help) = e.help {
        error = error.with_hint(help);
    }
    error
}
