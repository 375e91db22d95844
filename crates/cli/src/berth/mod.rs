//! The `berth` command line: image commands for now.

mod images;
mod output;
mod template;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "berth",
    version,
    about = "A daemonless docker-compatible container engine"
)]
pub struct Cli {
    /// State root (images, layers, snapshots); $BERTH_ROOT or /var/lib/berth
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Download an image from a registry
    Pull(images::PullArgs),
    /// Upload an image to a registry
    Push(images::PushArgs),
    /// List images
    Images(images::ImagesArgs),
    /// Create a tag TARGET that refers to SOURCE
    Tag(images::TagArgs),
    /// Remove one or more images
    Rmi(images::RmiArgs),
    /// Show the history of an image
    History(images::HistoryArgs),
    /// Save one or more images to a tar archive (streamed to stdout by default)
    Save(images::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(images::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(images::ImportArgs),
    /// Log in to a registry
    Login(images::LoginArgs),
    /// Log out from a registry
    Logout(images::LogoutArgs),
    /// Return low-level information on images
    Inspect(images::InspectArgs),
    /// Manage images
    Image {
        #[command(subcommand)]
        cmd: ImageCmd,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImageCmd {
    Pull(images::PullArgs),
    Push(images::PushArgs),
    #[command(alias = "list")]
    Ls(images::ImagesArgs),
    Tag(images::TagArgs),
    #[command(alias = "remove")]
    Rm(images::RmiArgs),
    History(images::HistoryArgs),
    Save(images::SaveArgs),
    Load(images::LoadArgs),
    Import(images::ImportArgs),
    Inspect(images::InspectArgs),
    /// Remove unused images, blobs and layers
    Prune(images::PruneArgs),
}

pub fn main() -> i32 {
    let cli = Cli::parse();
    match images::run(cli) {
        Ok(code) => code,
        Err(e) => {
            let mut msg = format!("{e}");
            for c in e.chain().skip(1) {
                msg.push_str(&format!(": {c}"));
            }
            eprintln!("Error: {msg}");
            1
        }
    }
}
