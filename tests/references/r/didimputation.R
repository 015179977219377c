# Borusyak, Jaravel & Spiess imputation reference values from didimputation::did_imputation, for
# tests/test_imputation_r.py.
#
# Regenerate (R 4.2.2, Debian; didimputation 0.5.0 and fixest 0.14.2 from CRAN source, library in /opt/rlib):
#   PYTHONPATH=. python tests/references/r/export_did_data.py /tmp/evalkit_rdata
#   Rscript tests/references/r/didimputation.R /tmp/evalkit_rdata tests/references/didimputation.json
# Input data (not committed): df_het.csv = did2s::df_het as shipped by pyfixest (MIT);
# mpdta.csv = did::mpdta as shipped by moderndid (MIT). See tests/references/README.md.
# Clustering: the package default (cluster_var = idname).
.libPaths(c("/opt/rlib", .libPaths()))
suppressPackageStartupMessages({
  library(didimputation)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args) >= 1) args[[1]] else "/tmp/evalkit_rdata"
out_file <- if (length(args) >= 2) args[[2]] else "tests/references/didimputation.json"

df_het <- read.csv(file.path(data_dir, "df_het.csv"))
mpdta <- read.csv(file.path(data_dir, "mpdta.csv"))

run_case <- function(name, data_name, data, yname, gname, tname, idname, extra = "") {
  call_txt <- sprintf('did_imputation(data = %s, yname = "%s", gname = "%s", tname = "%s", idname = "%s"%s)',
                      data_name, yname, gname, tname, idname, extra)
  res <- eval(parse(text = call_txt))
  res <- as.data.frame(res)
  list(name = name, call = call_txt,
       input = list(nrow = nrow(data), sum_outcome = sum(data[[yname]])),
       term = I(as.character(res$term)), estimate = I(res$estimate), std_error = I(res$std.error))
}

cases <- list(
  run_case("df_het_static", "df_het", df_het, "dep_var", "g", "year", "unit"),
  run_case("df_het_horizons", "df_het", df_het, "dep_var", "g", "year", "unit", ", horizon = TRUE"),
  run_case("df_het_pretrends", "df_het", df_het, "dep_var", "g", "year", "unit", ", pretrends = -5:-1"),
  run_case("mpdta_static", "mpdta", mpdta, "lemp", "first.treat", "year", "countyreal"),
  run_case("mpdta_horizons", "mpdta", mpdta, "lemp", "first.treat", "year", "countyreal", ", horizon = TRUE"),
  run_case("mpdta_pretrends", "mpdta", mpdta, "lemp", "first.treat", "year", "countyreal", ", pretrends = -3:-1")
)

out <- list(
  source = paste("didimputation::did_imputation (BJS imputation; conservative clustered SE of BJS Theorem 3",
                 "with tau_bar by cohort x event time, v^2-weighted; pre-trend rows from fixest::feols on",
                 "untreated rows, clustered with fixest's default small-sample correction)"),
  script = "tests/references/r/didimputation.R",
  date = format(Sys.time(), "%Y-%m-%d"),
  r_version = R.version.string,
  packages = list(didimputation = as.character(packageVersion("didimputation")),
                  fixest = as.character(packageVersion("fixest")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  data = list(df_het = "did2s::df_het as shipped by pyfixest 0.60.0 (pyfixest/did/data/df_het.csv); never treated: g = 0",
              mpdta = "did::mpdta as shipped by moderndid 0.2.0 (moderndid.load_mpdta()); never treated: first.treat = 0"),
  cases = cases
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), out_file)
cat("wrote", out_file, "\n")
