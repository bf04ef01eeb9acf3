import SystemIO

/// Where lorakit keeps what it can compute again (base norms, file hashes).
public enum CacheDirectory {
    /// `$XDG_CACHE_HOME/lorakit` or `$HOME/.cache/lorakit`; nil when neither is set.
    public static var path: String? {
        if let xdg = Environment.value("XDG_CACHE_HOME"), !xdg.isEmpty {
            return xdg + "/lorakit"
        }
        if let home = Environment.value("HOME"), !home.isEmpty {
            return home + "/.cache/lorakit"
        }
        return nil
    }
}
