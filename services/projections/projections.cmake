# Projection workers, views and query services (issue 5); part of
# carelog_services, included from services/CMakeLists.txt.
target_sources(carelog_services PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/billing_view.cc
  ${CMAKE_CURRENT_LIST_DIR}/entity_views.cc
  ${CMAKE_CURRENT_LIST_DIR}/patient_record_view.cc
  ${CMAKE_CURRENT_LIST_DIR}/projection_worker.cc
  ${CMAKE_CURRENT_LIST_DIR}/projections.cc
  ${CMAKE_CURRENT_LIST_DIR}/query_billing.cc
  ${CMAKE_CURRENT_LIST_DIR}/query_logistics.cc
  ${CMAKE_CURRENT_LIST_DIR}/query_messaging.cc
  ${CMAKE_CURRENT_LIST_DIR}/query_service.cc
  ${CMAKE_CURRENT_LIST_DIR}/query_support.cc
  ${CMAKE_CURRENT_LIST_DIR}/support_views.cc
  ${CMAKE_CURRENT_LIST_DIR}/view.cc
)
