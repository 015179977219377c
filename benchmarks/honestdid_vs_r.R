# R side of benchmarks/honestdid_vs_r.py: times HonestDiD on the inputs that script wrote.
#
#   Rscript benchmarks/honestdid_vs_r.R CASE_DIR REPS OUT_JSON
#
# CASE_DIR holds betahat.csv, sigma.csv (no header) and settings.json (num_pre, num_post, Mbar, M,
# l_vec, alpha, grid_points). Each call runs REPS times after the packages are loaded; the JSON has
# every run's elapsed and CPU seconds (system.time) and the CI bounds of the last run. HonestDiD and its
# dependencies are looked up in /opt/rlib first (as in tests/references/r/honestdid.R), then R_LIBS.
.libPaths(c("/opt/rlib", .libPaths()))
suppressPackageStartupMessages({
  library(HonestDiD)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
dir <- args[[1]]
reps <- as.integer(args[[2]])
out_file <- args[[3]]

s <- fromJSON(file.path(dir, "settings.json"))
betahat <- as.numeric(read.csv(file.path(dir, "betahat.csv"), header = FALSE)[[1]])
sigma <- unname(as.matrix(read.csv(file.path(dir, "sigma.csv"), header = FALSE)))

timed <- function(f) {
  secs <- cpu <- numeric(reps)
  for (i in seq_len(reps)) {
    t <- system.time(res <- f())
    secs[i] <- t[["elapsed"]]
    cpu[i] <- t[["user.self"]] + t[["sys.self"]]
  }
  list(seconds = I(secs), cpu_seconds = I(cpu), lb = as.numeric(res$lb), ub = as.numeric(res$ub))
}

out <- list(
  r_version = R.version.string,
  packages = lapply(list(HonestDiD = "HonestDiD", CVXR = "CVXR", lpSolveAPI = "lpSolveAPI",
                         TruncatedNormal = "TruncatedNormal", Rglpk = "Rglpk", Matrix = "Matrix"),
                    function(p) as.character(packageVersion(p))),
  relative_magnitudes = timed(function() createSensitivityResults_relativeMagnitudes(
    betahat = betahat, sigma = sigma, numPrePeriods = s$num_pre, numPostPeriods = s$num_post,
    method = "C-LF", Mbarvec = s$Mbar, l_vec = s$l_vec, alpha = s$alpha, gridPoints = s$grid_points)),
  smoothness = timed(function() createSensitivityResults(
    betahat = betahat, sigma = sigma, numPrePeriods = s$num_pre, numPostPeriods = s$num_post,
    method = "FLCI", Mvec = s$M, l_vec = s$l_vec, alpha = s$alpha))
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), out_file)
