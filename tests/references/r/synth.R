# Reference outputs of R Synth (Abadie, Diamond & Hainmueller) for tests/test_synth_reference.py.
#
# Usage (from the repository root, after the data export):
#   python tests/references/r/export_data.py /tmp/evalkit-refdata
#   Rscript tests/references/r/synth.R /tmp/evalkit-refdata tests/references [texas] [prop99]
# Writes synth_texas.json and synth_prop99.json: the main fit (donor weights, V, pre-period
# MSPE = Synth's loss.v, predictor balance, gap path) and every in-space placebo (each donor
# treated in turn against the other donors; the real treated unit is left out), with the
# post/pre RMSPE ratios and ADH's placebo p-value rank / (J + 1).
# Written for R 4.2.2 with Synth 1.1-8 (CRAN source) and its dependencies kernlab, optimx.
.libPaths(c("/opt/rlib", .libPaths()))
suppressMessages({library(Synth); library(jsonlite)})

args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args) >= 1) args[1] else "/tmp/evalkit-refdata"
out_dir <- if (length(args) >= 2) args[2] else "tests/references"
which <- if (length(args) >= 3) args[3:length(args)] else c("texas", "prop99")

quiet <- function(expr) { out <- NULL; capture.output(out <- expr); out }

# One Synth fit from a dataprep call whose treated/control ids are substituted.
# If synth() stops with an error at its defaults (ipop fails for some placebos), it is run
# again with Sigf.ipop = 3, the setting the Mixtape's placebo code (SCtools) uses; the JSON
# records this per fit in "synth_options" (and the first error in "default_error").
fit_one <- function(call_dp, treated, controls, pre, post) {
  cl <- call_dp
  cl$treatment.identifier <- treated
  cl$controls.identifier <- controls
  dp <- quiet(eval(cl))
  options_used <- "defaults"
  default_error <- NULL
  so <- tryCatch(quiet(synth(data.prep.obj = dp)), error = function(e) e)
  if (inherits(so, "error")) {
    default_error <- conditionMessage(so)
    options_used <- "Sigf.ipop = 3"
    so <- quiet(synth(data.prep.obj = dp, Sigf.ipop = 3))
  }
  gap <- as.numeric(dp$Y1plot - dp$Y0plot %*% so$solution.w)
  years <- as.numeric(rownames(dp$Y1plot))
  w <- as.numeric(so$solution.w); names(w) <- colnames(dp$X0)
  v <- as.numeric(so$solution.v); names(v) <- rownames(dp$X0)
  list(treated = treated, synth_options = options_used, default_error = default_error, weights = as.list(w), V = as.list(v), loss_v = as.numeric(so$loss.v),
       loss_w = as.numeric(so$loss.w), years = years, gap = gap,
       pre_rmspe = sqrt(mean(gap[years %in% pre]^2)), post_rmspe = sqrt(mean(gap[years %in% post]^2)),
       X1 = as.list(setNames(as.numeric(dp$X1), rownames(dp$X1))),
       X0_w = as.list(setNames(as.numeric(dp$X0 %*% so$solution.w), rownames(dp$X0))))
}

run_case <- function(name, call_dp, treated, donors, pre, post, unit_names, notes) {
  cat("==", name, "main fit\n")
  main <- fit_one(call_dp, treated, donors, pre, post)
  placebos <- list()
  for (j in donors) {
    cat("==", name, "placebo", j, "\n")
    res <- tryCatch(fit_one(call_dp, j, setdiff(donors, j), pre, post),
                    error = function(e) list(treated = j, error = conditionMessage(e)))
    placebos[[as.character(j)]] <- res
  }
  ratio <- function(f) if (is.null(f$error)) f$post_rmspe / f$pre_rmspe else NA_real_
  r_treated <- ratio(main)
  r_placebo <- vapply(placebos, ratio, numeric(1))
  rank <- 1 + sum(r_placebo >= r_treated, na.rm = TRUE)
  list(
    case = name, notes = notes,
    r_version = R.version.string, synth_version = as.character(packageVersion("Synth")),
    kernlab_version = as.character(packageVersion("kernlab")),
    optimx_version = as.character(packageVersion("optimx")),
    date = format(Sys.time(), "%Y-%m-%d"),
    call_dataprep = paste(deparse(call_dp, width.cutoff = 500L), collapse = " "),
    call_synth = "synth(data.prep.obj = dp)  # defaults: optimxmethod = c('Nelder-Mead','BFGS'), quadopt = 'ipop', Margin.ipop = 5e-04, Sigf.ipop = 5, Bound.ipop = 10",
    placebo_rule = "each donor j in turn: treatment.identifier = j, controls.identifier = setdiff(donors, j); ratio = post RMSPE / pre RMSPE of the gap; p = (1 + #{placebo ratio >= treated ratio}) / (J + 1)",
    unit_names = unit_names, pre_years = pre, post_years = post,
    main = main, placebos = unname(placebos),
    treated_ratio = r_treated, placebo_ratios = as.list(r_placebo),
    rank = rank, n_placebos = sum(!is.na(r_placebo)), p_value = rank / (1 + sum(!is.na(r_placebo))))
}

write_case <- function(res, file) {
  writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null", na = "null"),
             file.path(out_dir, file))
  cat("wrote", file.path(out_dir, file), "\n")
}

# ---------------------------------------------------------------- Texas (Cunningham, Mixtape ch. 10)
if ("texas" %in% which) {
texas <- read.csv(file.path(data_dir, "texas.csv"))
tx_call <- quote(dataprep(foo = texas, predictors = c("poverty", "income"), predictors.op = "mean",
  time.predictors.prior = 1985:1993,
  special.predictors = list(list("bmprison", c(1988, 1990:1992), "mean"), list("alcohol", 1990, "mean"),
    list("aidscapita", 1990:1991, "mean"), list("black", 1990:1992, "mean"), list("perc1519", 1990, "mean")),
  dependent = "bmprison", unit.variable = "statefip", unit.names.variable = "state", time.variable = "year",
  treatment.identifier = 48, controls.identifier = c(1, 2, 4:6, 8:13, 15:42, 44:47, 49:51, 53:56),
  time.optimize.ssr = 1985:1993, time.plot = 1985:2000))
tx_names <- unique(texas[, c("statefip", "state")])
tx <- run_case("texas", tx_call, 48, c(1, 2, 4:6, 8:13, 15:42, 44:47, 49:51, 53:56), 1985:1993, 1994:2000,
               setNames(as.list(tx_names$state), tx_names$statefip),
               "Mixtape specification (Cunningham 2021, ch. 10, synth_1.R); 1993 is the last pre-period year (time.optimize.ssr = 1985:1993), so evalkit's treatment_start is 1994. Data: causaldata (PyPI) texas.")
write_case(tx, "synth_texas.json")
}

# ---------------------------------------------------------------- Prop 99 (ADH 2010), cigarette sales only
if ("prop99" %in% which) {
p99 <- read.csv(file.path(data_dir, "prop99.csv"))
states <- sort(unique(p99$State))
p99$state_id <- match(p99$State, states)
ca <- match("California", states)
p99_donors <- setdiff(seq_along(states), ca)
p99_call <- quote(dataprep(foo = p99, predictors = "PacksPerCapita", predictors.op = "mean",
  time.predictors.prior = 1970:1988,
  special.predictors = list(list("PacksPerCapita", 1975, "mean"), list("PacksPerCapita", 1980, "mean"),
    list("PacksPerCapita", 1988, "mean")),
  dependent = "PacksPerCapita", unit.variable = "state_id", unit.names.variable = "State",
  time.variable = "Year", treatment.identifier = 3, controls.identifier = c(1:2, 4:39),
  time.optimize.ssr = 1970:1988, time.plot = 1970:2000))
stopifnot(ca == 3)
p99r <- run_case("prop99", p99_call, ca, p99_donors, 1970:1988, 1989:2000,
                 setNames(as.list(states), seq_along(states)),
                 "ADH (2010) special predictors of the outcome only (cigarette sales 1975, 1980, 1988 and its 1970-1988 mean; the panel has no income, price, age or beer covariates). state_id = position of State in sorted state names. Data: synthdid-py (PyPI) california_prop99.")
write_case(p99r, "synth_prop99.json")
}
