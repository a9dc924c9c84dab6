//! What the numbers were measured on: CPU count and model, build profile, and how loaded the
//! machine was.

/// The machine and build a run measured.
#[derive(Clone, Debug)]
pub struct Machine {
    /// Logical CPUs available to this process (also the tokio worker threads, shared by the
    /// benchmark clients and the servers).
    pub cpus: usize,
    /// `model name` from `/proc/cpuinfo`, or `unknown CPU`.
    pub cpu_model: String,
    /// `release` or `debug`.
    pub profile: &'static str,
}

impl Machine {
    /// Reads the machine this process runs on.
    pub fn detect() -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|cpuinfo| cpu_model(&cpuinfo))
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        Machine {
            cpus,
            cpu_model,
            profile,
        }
    }

    /// `2 × AMD EPYC, release` — short enough for a table cell.
    pub fn summary(&self) -> String {
        format!("{} × {}, {}", self.cpus, self.cpu_model, self.profile)
    }
}

/// The 1-, 5- and 15-minute load averages from `/proc/loadavg`, e.g. `1.61 0.67 0.26`: how
/// busy the machine was with other work around a run (other builds skew every number).
pub fn load_average() -> Option<String> {
    let loadavg = std::fs::read_to_string("/proc/loadavg").ok()?;
    let fields: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    (fields.len() == 3).then(|| fields.join(" "))
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_model_is_the_first_model_name() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\
                       processor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor\t: 0\n"), None);
    }
}
