# Sun & Abraham (2021) reference values from fixest::sunab, for tests/test_sun_abraham_r.py.
#
# Regenerate (R 4.2.2, Debian; fixest 0.14.2 from CRAN source, library in /opt/rlib):
#   PYTHONPATH=. python tests/references/r/export_did_data.py /tmp/evalkit_rdata
#   Rscript tests/references/r/sunab.R /tmp/evalkit_rdata tests/references/sunab_fixest.json
# Input data (not committed): df_het.csv = did2s::df_het as shipped by pyfixest (MIT);
# mpdta.csv = did::mpdta as shipped by moderndid (MIT). See tests/references/README.md.
.libPaths(c("/opt/rlib", .libPaths()))
suppressPackageStartupMessages({
  library(fixest)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args) >= 1) args[[1]] else "/tmp/evalkit_rdata"
out_file <- if (length(args) >= 2) args[[2]] else "tests/references/sunab_fixest.json"

df_het <- read.csv(file.path(data_dir, "df_het.csv"))
mpdta <- read.csv(file.path(data_dir, "mpdta.csv"))

# Covariance of fixest's aggregated relative-period coefficients: fixest:::aggregate.fixest computes only
# their SEs, from shares = column sums of sign(model.matrix) within a period and the clustered V of the
# cohort x period interactions; this applies the same shares to the whole matrix (W V W').
agg_vcov <- function(est, terms) {
  V <- est$cov.scaled
  mm <- model.matrix(est)
  cn <- colnames(V)
  W <- matrix(0, length(terms), length(cn), dimnames = list(terms, cn))
  for (tm in terms) {
    cols <- cn[startsWith(cn, paste0(tm, ":cohort::"))]
    sh <- colSums(sign(mm[, cols, drop = FALSE]))
    W[tm, cols] <- sh / sum(sh)
  }
  W %*% V %*% t(W)
}

run_case <- function(name, data_name, data, fml_txt, cluster_var, outcome) {
  cluster_txt <- paste0("~", cluster_var)
  fml <- as.formula(fml_txt)
  est <- feols(fml, data = data, cluster = as.formula(cluster_txt))
  ct <- coeftable(est)                       # aggregated relative periods (fixest default)
  att <- coeftable(summary(est, agg = "att"))
  V <- agg_vcov(est, rownames(ct))
  stopifnot(max(abs(sqrt(diag(V)) / ct[, "Std. Error"] - 1)) < 1e-12)
  list(
    name = name,
    call = sprintf("est <- feols(%s, data = %s, cluster = %s); summary(est, agg = \"att\")", fml_txt, data_name,
                   cluster_txt),
    input = list(nrow = nrow(data), sum_outcome = sum(data[[outcome]])),
    nobs = nobs(est),
    n_clusters = length(unique(data[[cluster_var]])),
    ssc = paste(capture.output(print(ssc())), collapse = " "),
    terms = rownames(ct),
    event_time = as.integer(sub("^year::", "", rownames(ct))),
    estimate = unname(ct[, "Estimate"]),
    std_error = unname(ct[, "Std. Error"]),
    vcov = unname(V),   # aggregated relative periods, W V_interactions W' (see agg_vcov)
    att_estimate = unname(att["ATT", "Estimate"]),
    att_std_error = unname(att["ATT", "Std. Error"])
  )
}

cases <- list(
  run_case("df_het_cluster_state", "df_het", df_het, "dep_var ~ sunab(g, year) | unit + year", "state", "dep_var"),
  run_case("df_het_cluster_unit", "df_het", df_het, "dep_var ~ sunab(g, year) | unit + year", "unit", "dep_var"),
  run_case("mpdta_cluster_county", "mpdta", mpdta, "lemp ~ sunab(first.treat, year) | countyreal + year",
           "countyreal", "lemp")
)

out <- list(
  source = "fixest::feols with sunab(); relative-period coefficients (fixest's default aggregation) with clustered SEs and summary(est, agg = 'att')",
  script = "tests/references/r/sunab.R",
  date = format(Sys.time(), "%Y-%m-%d"),
  r_version = R.version.string,
  packages = list(fixest = as.character(packageVersion("fixest")), jsonlite = as.character(packageVersion("jsonlite"))),
  data = list(df_het = "did2s::df_het as shipped by pyfixest 0.60.0 (pyfixest/did/data/df_het.csv); never treated: g = 0",
              mpdta = "did::mpdta as shipped by moderndid 0.2.0 (moderndid.load_mpdta()); never treated: first.treat = 0"),
  cases = cases
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), out_file)
cat("wrote", out_file, "\n")
