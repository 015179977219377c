# HonestDiD reference intervals for tests/test_honest_did_r.py.
#
# betahat and sigma are our own derived numbers (stored in the JSON): the Sun & Abraham event study of
# lemp on mpdta from fixest::sunab (relative periods -4..-2 pre, 0..3 post; -1 reference), clustered by
# county, with the covariance of fixest's aggregated relative-period coefficients (W V W', as in sunab.R).
#
# Regenerate (R 4.2.2, Debian; HonestDiD 0.2.6, CVXR 1.0.11, fixest 0.14.2 from CRAN source, in /opt/rlib):
#   PYTHONPATH=. python tests/references/r/export_did_data.py /tmp/evalkit_rdata
#   Rscript tests/references/r/honestdid.R /tmp/evalkit_rdata tests/references/honestdid_mpdta.json
.libPaths(c("/opt/rlib", .libPaths()))
suppressPackageStartupMessages({
  library(fixest)
  library(HonestDiD)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args) >= 1) args[[1]] else "/tmp/evalkit_rdata"
out_file <- if (length(args) >= 2) args[[2]] else "tests/references/honestdid_mpdta.json"

mpdta <- read.csv(file.path(data_dir, "mpdta.csv"))
est <- feols(lemp ~ sunab(first.treat, year) | countyreal + year, data = mpdta, cluster = ~countyreal)
ct <- coeftable(est)
terms <- rownames(ct)
V <- est$cov.scaled
mm <- model.matrix(est)
W <- matrix(0, length(terms), ncol(V), dimnames = list(terms, colnames(V)))
for (tm in terms) {
  cols <- colnames(V)[startsWith(colnames(V), paste0(tm, ":cohort::"))]
  sh <- colSums(sign(mm[, cols, drop = FALSE]))
  W[tm, cols] <- sh / sum(sh)
}
sigma <- unname(W %*% V %*% t(W))
sigma <- (sigma + t(sigma)) / 2
betahat <- unname(ct[, "Estimate"])
stopifnot(max(abs(sqrt(diag(sigma)) / ct[, "Std. Error"] - 1)) < 1e-12)
num_pre <- 3L
num_post <- 4L
stopifnot(identical(as.integer(sub("year::", "", terms)), c(-4L, -3L, -2L, 0L, 1L, 2L, 3L)))

Mbarvec <- seq(0.5, 2, 0.5)
Mvec <- seq(0, 0.05, 0.01)
lvecs <- list(first_post = c(1, 0, 0, 0), average_post = rep(0.25, 4))

tab <- function(x) list(method = I(as.character(x$method)), lb = I(as.numeric(x$lb)), ub = I(as.numeric(x$ub)))
runs <- list()
for (ln in names(lvecs)) {
  l <- lvecs[[ln]]
  rm <- createSensitivityResults_relativeMagnitudes(betahat = betahat, sigma = sigma, numPrePeriods = num_pre,
                                                    numPostPeriods = num_post, Mbarvec = Mbarvec, l_vec = l)
  sd <- createSensitivityResults(betahat = betahat, sigma = sigma, numPrePeriods = num_pre,
                                 numPostPeriods = num_post, Mvec = Mvec, l_vec = l)
  orig <- constructOriginalCS(betahat = betahat, sigma = sigma, numPrePeriods = num_pre,
                              numPostPeriods = num_post, l_vec = l)
  # The FLCI's optimum behind each smoothness row: half-length, weights on betahat and their sd (= h).
  fl <- lapply(Mvec, function(M) {
    f <- findOptimalFLCI(betahat = betahat, sigma = sigma, M = M, numPrePeriods = num_pre,
                         numPostPeriods = num_post, l_vec = l, alpha = 0.05)
    w <- as.numeric(f$optimalVec)
    list(half_length = f$optimalHalfLength, weights = I(w), sd = sqrt(c(t(w) %*% sigma %*% w)))
  })
  runs[[ln]] <- list(
    l_vec = I(l),
    relative_magnitudes = c(list(Mbar = I(rm$Mbar)), tab(rm)),
    smoothness = c(list(M = I(sd$M)), tab(sd)),
    flci_optimum = list(M = I(Mvec), half_length = I(sapply(fl, `[[`, "half_length")),
                        sd = I(sapply(fl, `[[`, "sd")), weights = t(sapply(fl, `[[`, "weights"))),
    original = tab(orig)
  )
}

out <- list(
  source = paste("HonestDiD::createSensitivityResults_relativeMagnitudes (defaults: C-LF, gridPoints = 1000,",
                 "grid +-20 sd), HonestDiD::createSensitivityResults (Delta^SD, default method FLCI) and",
                 "HonestDiD::constructOriginalCS, alpha = 0.05, on betahat/sigma from fixest::sunab on mpdta"),
  script = "tests/references/r/honestdid.R",
  calls = list(
    event_study = "est <- feols(lemp ~ sunab(first.treat, year) | countyreal + year, data = mpdta, cluster = ~countyreal); betahat = coef(est); sigma = W %*% est$cov.scaled %*% t(W)",
    relative_magnitudes = "createSensitivityResults_relativeMagnitudes(betahat, sigma, numPrePeriods = 3, numPostPeriods = 4, Mbarvec = seq(0.5, 2, 0.5), l_vec = l)",
    smoothness = "createSensitivityResults(betahat, sigma, numPrePeriods = 3, numPostPeriods = 4, Mvec = seq(0, 0.05, 0.01), l_vec = l)",
    original = "constructOriginalCS(betahat, sigma, numPrePeriods = 3, numPostPeriods = 4, l_vec = l)",
    flci_optimum = "findOptimalFLCI(betahat, sigma, M = M, numPrePeriods = 3, numPostPeriods = 4, l_vec = l, alpha = 0.05) for M in Mvec"
  ),
  date = format(Sys.time(), "%Y-%m-%d"),
  r_version = R.version.string,
  packages = list(HonestDiD = as.character(packageVersion("HonestDiD")), CVXR = as.character(packageVersion("CVXR")),
                  fixest = as.character(packageVersion("fixest")), jsonlite = as.character(packageVersion("jsonlite"))),
  data = "did::mpdta as shipped by moderndid 0.2.0 (moderndid.load_mpdta()); never treated: first.treat = 0",
  event_time = I(as.integer(sub("year::", "", terms))),
  num_pre = num_pre, num_post = num_post,
  betahat = I(betahat), sigma = sigma,
  runs = runs
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), out_file)
cat("wrote", out_file, "\n")
