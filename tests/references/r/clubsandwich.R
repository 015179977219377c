# Reference CR2 / CR3 numbers from clubSandwich for tests/test_cr2_reference.py.
#
# Usage (from the repository root):
#   python tests/references/r/export_data.py /tmp/evalkit-refdata
#   Rscript tests/references/r/clubsandwich.R /tmp/evalkit-refdata tests/references
# Writes clubsandwich_cr2.json. Written for R 4.2.2 (Debian) with clubSandwich 0.5.8
# (Debian r-cran-clubsandwich) and plm.
#
# Every case is fitted three ways, which are the same regression:
#   "dummies":  lm() with unit and time fixed effects as dummy variables;
#   "absorbed": lm() without intercept on y, D, x and the time dummies demeaned within unit
#               (the unit effects partialled out; evalkit's nested_partial design);
#   "plm":      plm(model = "within", effect = "individual") with time dummies.
# clubSandwich computes the CR2 adjustment from the model matrix it is given, so the three
# need not agree; the JSON keeps all of them and the tests say which one evalkit matches.
.libPaths(c("/opt/rlib", .libPaths()))
suppressMessages({library(clubSandwich); library(plm); library(jsonlite)})

args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args) >= 1) args[1] else "/tmp/evalkit-refdata"
out_dir <- if (length(args) >= 2) args[2] else "tests/references"

one_test <- function(fit, cluster, type, coefs) {
  V <- vcovCR(fit, cluster = cluster, type = type)
  res <- list(vcov = unname(as.matrix(V)[coefs, coefs, drop = FALSE]),
              se = unname(sqrt(diag(as.matrix(V))[coefs])))
  if (type == "CR2") {
    ct <- coef_test(fit, vcov = V, test = "Satterthwaite", coefs = coefs)
    res$df <- unname(ct$df_Satt)
    res$p <- unname(ct$p_Satt)
    res$beta <- unname(ct$beta)
  } else {
    ct <- coef_test(fit, vcov = V, test = "naive-t", coefs = coefs)  # t(G - 1)
    res$p_naive_t <- unname(ct$p_t)
  }
  res
}

safe <- function(expr) tryCatch(expr, error = function(e) list(error = conditionMessage(e)))

demean_within <- function(m, g) m - apply(m, 2, function(col) ave(col, g))

fit_case <- function(df, y, regs, unit, time, cluster, coefs, no_fe = FALSE) {
  out <- list()
  cl <- df[[cluster]]
  if (no_fe) {
    f <- reformulate(regs, y)
    fit <- lm(f, data = df)
    out$lm <- list(call = paste(deparse(f), collapse = " "),
                   CR2 = safe(one_test(fit, cl, "CR2", coefs)), CR3 = safe(one_test(fit, cl, "CR3", coefs)))
    return(out)
  }
  f_dum <- reformulate(c(regs, sprintf("factor(%s)", unit), sprintf("factor(%s)", time)), y)
  fit_dum <- lm(f_dum, data = df)
  out$dummies <- list(call = paste(deparse(f_dum), collapse = " "),
                      CR2 = safe(one_test(fit_dum, cl, "CR2", coefs)), CR3 = safe(one_test(fit_dum, cl, "CR3", coefs)))
  # absorbed: demean within unit; the first time level is dropped as in the dummy fit
  td <- model.matrix(~ factor(df[[time]]))[, -1, drop = FALSE]
  colnames(td) <- paste0("t_", seq_len(ncol(td)))
  Z <- demean_within(cbind(y = df[[y]], as.matrix(df[regs]), td), df[[unit]])
  dz <- as.data.frame(Z)
  f_abs <- reformulate(c("0", regs, colnames(td)), "y")
  fit_abs <- lm(f_abs, data = dz)
  out$absorbed <- list(call = paste("lm(", paste(deparse(f_abs), collapse = " "),
                                    ", data = <y, regressors and time dummies demeaned within", unit, ">)"),
                       CR2 = safe(one_test(fit_abs, cl, "CR2", coefs)), CR3 = safe(one_test(fit_abs, cl, "CR3", coefs)))
  pd <- pdata.frame(df, index = c(unit, time))
  f_plm <- reformulate(c(regs, sprintf("factor(%s)", time)), y)
  fit_plm <- plm(f_plm, data = pd, model = "within", effect = "individual")
  out$plm <- list(call = paste("plm(", paste(deparse(f_plm), collapse = " "),
                               ", data = pdata.frame(df, index = c(", shQuote(unit), ",", shQuote(time),
                               ")), model = 'within', effect = 'individual')"),
                  CR2 = safe(one_test(fit_plm, pd[[cluster]], "CR2", coefs)),
                  CR3 = safe(one_test(fit_plm, pd[[cluster]], "CR3", coefs)))
  out
}

cases <- list()

organ <- read.csv(file.path(data_dir, "organ_donations.csv"))
organ$D <- as.numeric(organ$State == "California" & organ$Quarter_Num >= 4)
organ$ca <- as.numeric(organ$State == "California")
organ$post <- as.numeric(organ$Quarter_Num >= 4)
organ$ATT <- organ$ca * organ$post
cases$organ_twfe <- c(list(
  data = "causaldata organ_donations; D = (State == 'California') & (Quarter_Num >= 4)",
  evalkit = "twfe(outcome='Rate', unit='State', time='Quarter_Num', treatment='D', cluster='State')",
  coefs = "D", G = length(unique(organ$State))),
  fit_case(organ, "Rate", "D", "State", "Quarter_Num", "State", "D"))
cases$organ_did2x2 <- c(list(
  data = "causaldata organ_donations; ca = State == 'California', post = Quarter_Num >= 4",
  evalkit = "did2x2(outcome='Rate', treatment='ca', post='post', cluster='State')",
  coefs = c("ca", "post", "ATT"), G = length(unique(organ$State))),
  fit_case(organ, "Rate", c("ca", "post", "ATT"), NULL, NULL, "State", c("ca", "post", "ATT"), no_fe = TRUE))

panel <- read.csv(file.path("tests", "references", "cr2_panel.csv"))  # run from the repository root
cases$panel_twfe <- c(list(
  data = "tests/references/cr2_panel.csv (simulated, unbalanced; areas nested in 14 municipalities of 1-5 areas)",
  evalkit = "twfe(outcome='y', unit='area', time='year', treatment='D', covariates=['x'], cluster='municipality')",
  coefs = c("D", "x"), G = length(unique(panel$municipality))),
  fit_case(panel, "y", c("D", "x"), "area", "year", "municipality", c("D", "x")))
cases$panel_twfe_area <- c(list(
  data = "tests/references/cr2_panel.csv, clustered by area (36 clusters of 6-10 rows)",
  evalkit = "twfe(outcome='y', unit='area', time='year', treatment='D', covariates=['x'], cluster='area')",
  coefs = c("D", "x"), G = length(unique(panel$area))),
  fit_case(panel, "y", c("D", "x"), "area", "year", "area", c("D", "x")))

res <- list(
  r_version = R.version.string,
  clubSandwich_version = as.character(packageVersion("clubSandwich")),
  plm_version = as.character(packageVersion("plm")),
  date = format(Sys.time(), "%Y-%m-%d"),
  calls = list(CR2 = "V <- vcovCR(fit, cluster = <cluster>, type = 'CR2'); coef_test(fit, vcov = V, test = 'Satterthwaite', coefs = <coefs>)",
               CR3 = "V <- vcovCR(fit, cluster = <cluster>, type = 'CR3'); coef_test(fit, vcov = V, test = 'naive-t', coefs = <coefs>)"),
  notes = "se = sqrt(diag(V)); df = df_Satt and p = p_Satt of coef_test (Bell-McCaffrey Satterthwaite df); CR3 p_naive_t uses t(G - 1). vcov rows/columns follow coefs. An 'error' entry records clubSandwich's error message.",
  cases = cases)
writeLines(toJSON(res, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null", na = "null"),
           file.path(out_dir, "clubsandwich_cr2.json"))
cat("wrote", file.path(out_dir, "clubsandwich_cr2.json"), "\n")
