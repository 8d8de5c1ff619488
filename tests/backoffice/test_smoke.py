def test_login_and_home(client, logged_in):
    logged_in("ops_agent")
    resp = client.get("/admin/")
    assert resp.status_code == 200
    assert "New requests to cover" in resp.get_data(as_text=True)
