# Reference wild cluster bootstrap results for tests/test_wild_reference.py.
# Our own script; it only calls the installed packages (nothing of theirs is committed).
# Run:  python -m tests.wild_reference_data /tmp/wildref
#       Rscript tests/references/r/fwildclusterboot.R /tmp/wildref tests/references/wild_fwildclusterboot.json
# Used here: R 4.2.2 (Debian bookworm), fwildclusterboot 0.13.0 and fixest 0.14.2 built from
# their CRAN sources, engine "R" (the fast algorithm of Roodman et al. 2019).
.libPaths(c("/opt/rlib", .libPaths()))
suppressPackageStartupMessages({library(fwildclusterboot); library(fixest); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]; out <- args[2]
# Intervals: test inversion run to convergence (the defaults tol = 1e-6, maxiter = 10 can stop
# before the jump of the step-shaped p-value function is reached).
TOL <- 1e-10; MAXITER <- 200
read <- function(name) read.csv(file.path(dir, paste0(name, ".csv")))

fixest_t <- function(model, param) {
  if (inherits(model, "fixest")) unname(tstat(model)[param]) else NA
}

run <- function(label, model, call, ...) {
  dqrng::dqset.seed(20261122)
  set.seed(20261122)
  bt <- suppressWarnings(do.call(boottest, c(list(object = model, tol = TOL, maxiter = MAXITER), list(...))))
  list(label = label, call = call, t_stat = unname(bt$t_stat), p_val = unname(bt$p_val),
       conf_int = unname(bt$conf_int), B = bt$boot_iter, point_estimate = unname(bt$point_estimate),
       fixest_cr1_t = fixest_t(model, list(...)$param), n_obs = nobs(model),
       n_clusters = bt$N_G)
}

cs <- read("cross_section")
m_cs <- lm(y ~ d + x1, data = cs)
ap <- read("area_panel")
m_ap <- feols(y ~ d | person + year, data = ap, cluster = ~area)
m_aa <- feols(y ~ d | area + year, data = ap, cluster = ~area)
ma <- read("many_areas")
m_ma <- feols(y ~ d | area + year, data = ma, cluster = ~area)
od <- read("organ_donations")
od$state_id <- as.integer(factor(od$State))  # boottest's fe = needs a numeric code
m_od <- feols(Rate ~ D | state_id + Quarter_Num, data = od, cluster = ~state_id)

cases <- list(
  run("cross_section_wcr", m_cs, "boottest(lm(y ~ d + x1), param='d', clustid='g', B=9999, type='rademacher', impose_null=TRUE)",
      param = "d", clustid = "g", B = 9999, type = "rademacher", impose_null = TRUE),
  run("cross_section_wcu", m_cs, "boottest(lm(y ~ d + x1), param='d', clustid='g', B=9999, type='rademacher', impose_null=FALSE)",
      param = "d", clustid = "g", B = 9999, type = "rademacher", impose_null = FALSE),
  run("cross_section_x1_wcr", m_cs, "boottest(lm(y ~ d + x1), param='x1', clustid='g', B=9999, impose_null=TRUE)",
      param = "x1", clustid = "g", B = 9999, type = "rademacher", impose_null = TRUE),
  run("person_year_fe_wcr", m_ap, "boottest(feols(y ~ d | person + year, cluster=~area), param='d', clustid='area', fe='person', B=9999)",
      param = "d", clustid = "area", fe = "person", B = 9999, type = "rademacher", impose_null = TRUE),
  run("area_year_fe_wcr", m_aa, "boottest(feols(y ~ d | area + year, cluster=~area), param='d', clustid='area', fe='area', B=9999)",
      param = "d", clustid = "area", fe = "area", B = 9999, type = "rademacher", impose_null = TRUE),
  run("area_year_fe_wcu", m_aa, "boottest(feols(y ~ d | area + year, cluster=~area), param='d', clustid='area', fe='area', B=9999, impose_null=FALSE)",
      param = "d", clustid = "area", fe = "area", B = 9999, type = "rademacher", impose_null = FALSE),
  run("many_areas_rademacher", m_ma, "boottest(feols(y ~ d | area + year, cluster=~area), param='d', clustid='area', fe='area', B=99999, type='rademacher')",
      param = "d", clustid = "area", fe = "area", B = 99999, type = "rademacher", impose_null = TRUE),
  run("many_areas_webb", m_ma, "boottest(feols(y ~ d | area + year, cluster=~area), param='d', clustid='area', fe='area', B=99999, type='webb')",
      param = "d", clustid = "area", fe = "area", B = 99999, type = "webb", impose_null = TRUE),
  run("many_areas_mammen", m_ma, "boottest(feols(y ~ d | area + year, cluster=~area), param='d', clustid='area', fe='area', B=99999, type='mammen')",
      param = "d", clustid = "area", fe = "area", B = 99999, type = "mammen", impose_null = TRUE),
  run("organ_donations_wcr", m_od, "boottest(feols(Rate ~ D | state_id + Quarter_Num, cluster=~state_id), param='D', clustid='state_id', fe='state_id', B=99999)",
      param = "D", clustid = "state_id", fe = "state_id", B = 99999, type = "rademacher", impose_null = TRUE)
)
meta <- list(source = "fwildclusterboot::boottest, engine 'R'", r_version = R.version.string,
             fwildclusterboot = as.character(packageVersion("fwildclusterboot")),
             fixest = as.character(packageVersion("fixest")), date = as.character(Sys.Date()),
             data = "tests/wild_reference_data.py (written to CSV with 17 significant digits)")
writeLines(toJSON(list(meta = meta, cases = cases), digits = NA, auto_unbox = TRUE, pretty = TRUE), out)
